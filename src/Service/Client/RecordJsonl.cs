using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Retrieval.Index.Errors;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Service.Client;

/// <summary>
/// Records as JSON Lines, one object a line: {"id": 7 or "doc-7", "text": "...", "vector": [...],
/// "sparse": {"indices": [...], "values": [...]}, "payload": any JSON value}; every field but id optional.
/// Errors name the file and line.
/// </summary>
public static class RecordJsonl
{
    public static IEnumerable<V1.Record> Read(string path)
    {
        if (!File.Exists(path)) throw new RetrievalException(ErrorKind.NotFound, $"records file {path} does not exist");
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            V1.Record record;
            try
            {
                record = Parse(line);
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or RetrievalException)
            {
                throw new DataFormatException(path, e.Message, row: lineNumber);
            }
            yield return record;
        }
    }

    public static V1.Record Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("expected a JSON object");
        var record = new V1.Record();
        if (!root.TryGetProperty("id", out var id)) throw new FormatException("record has no \"id\"");
        record.Id = id.ValueKind switch
        {
            JsonValueKind.Number => new V1.RecordId { Number = id.GetInt64() },
            JsonValueKind.String => new V1.RecordId { Text = id.GetString()! },
            _ => throw new FormatException($"\"id\" must be a number or a string, found {id.ValueKind}"),
        };
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "id": break;
                case "text": record.Text = property.Value.GetString() ?? ""; break;
                case "vector":
                    foreach (var v in property.Value.EnumerateArray()) record.Vector.Add(v.GetSingle());
                    break;
                case "sparse":
                    record.Sparse = ParseSparse(property.Value);
                    break;
                case "payload":
                    record.Payload = ByteString.CopyFromUtf8(property.Value.GetRawText());
                    break;
                default:
                    throw new FormatException($"unknown field \"{property.Name}\" (expected id, text, vector, sparse, payload)");
            }
        }
        return record;
    }

    public static V1.SparseVector ParseSparse(JsonElement element)
    {
        var sparse = new V1.SparseVector();
        if (element.TryGetProperty("indices", out var indices))
            foreach (var i in indices.EnumerateArray()) sparse.Indices.Add(i.GetUInt32());
        if (element.TryGetProperty("values", out var values))
            foreach (var v in values.EnumerateArray()) sparse.Values.Add(v.GetSingle());
        return sparse;
    }

    /// <summary>A vector written as numbers separated by commas and/or whitespace (optionally in [ ]).</summary>
    public static float[] ParseVector(string text, string source)
    {
        var parts = text.Trim().TrimStart('[').TrimEnd(']').Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var vector = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out vector[i]))
                throw new RetrievalException(ErrorKind.InvalidInput, $"{source}: value {i} ('{parts[i]}') is not a number");
        }
        if (vector.Length == 0) throw new RetrievalException(ErrorKind.InvalidInput, $"{source}: no numbers");
        return vector;
    }
}
