using System.Text.Json;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Indexes;

/// <summary>
/// The part of an index directory's manifest.json every format shares: the format name and version. The
/// rest of the manifest belongs to the format's own reader, which gets the raw JSON text.
/// </summary>
public sealed record IndexManifestHeader(string Format, int Version, string ManifestPath, string Json)
{
    public const string FileName = "manifest.json";

    /// <summary>Reads and checks DIR/manifest.json; errors name the directory and what is missing.</summary>
    public static IndexManifestHeader Read(string directory)
    {
        if (File.Exists(directory))
            throw new RetrievalException(ErrorKind.InvalidInput,
                $"{directory} is a file; --index expects an index directory holding {FileName}");
        if (!Directory.Exists(directory))
            throw new RetrievalException(ErrorKind.NotFound, $"index directory not found: {directory}");
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new RetrievalException(ErrorKind.NotFound,
                $"{directory} is not an index directory: {FileName} not found in it");

        string json = File.ReadAllText(path);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new DataFormatException(path, $"expected a JSON object, found {root.ValueKind}");
            if (!root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String ||
                string.IsNullOrWhiteSpace(format.GetString()))
                throw new DataFormatException(path, "expected a string field \"format\" naming the index format, found none",
                    kind: ErrorKind.Incompatible);
            int version = 0;
            if (root.TryGetProperty("version", out var v) && !v.TryGetInt32(out version))
                throw new DataFormatException(path, $"expected an integer \"version\", found {v.GetRawText()}");
            return new IndexManifestHeader(format.GetString()!, version, path, json);
        }
        catch (JsonException e)
        {
            throw new DataFormatException(path, $"not valid JSON: {e.Message}", inner: e);
        }
    }
}
