using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Retrieval.Bench.Corpora;

/// <summary>
/// The JSON-lines files of a BEIR folder: corpus.jsonl(.gz) lines <c>{"_id", "title", "text", ...}</c> and
/// queries.jsonl lines <c>{"_id", "text", ...}</c>. Other keys (metadata) are skipped; ids may be JSON strings
/// or numbers; a missing or null title reads as "".
/// </summary>
internal static class BeirJsonLines
{
    public readonly record struct Entry(string Id, string Title, string Text);

    public static IEnumerable<Entry> Read(string path, bool expectTitle)
    {
        using var lines = TextFileLines.Open(path);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            bool any = false;
            while (lines.TryRead(out var line))
            {
                if (line.Length == 0 || string.IsNullOrWhiteSpace(line))
                    throw lines.Error("expected a JSON object, found a blank line");
                int max = Encoding.UTF8.GetMaxByteCount(line.Length);
                if (buffer.Length < max)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(max);
                }
                int length = Encoding.UTF8.GetBytes(line, buffer);
                any = true;
                yield return ParseObject(lines, buffer.AsSpan(0, length), expectTitle);
            }
            if (!any) throw lines.FileError("expected at least one JSON line, found an empty file");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static Entry ParseObject(TextFileLines lines, ReadOnlySpan<byte> json, bool expectTitle)
    {
        string? id = null, title = null, text = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw lines.Error($"expected a JSON object, found {reader.TokenType}");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                if (reader.TokenType != JsonTokenType.PropertyName)
                    throw lines.Error($"expected a property name, found {reader.TokenType}");
                if (reader.ValueTextEquals("_id"u8))
                {
                    reader.Read();
                    id = reader.TokenType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                        _ => throw lines.Error($"expected \"_id\" to be a string or number, found {reader.TokenType}"),
                    };
                }
                else if (reader.ValueTextEquals("title"u8))
                {
                    reader.Read();
                    title = ReadText(lines, ref reader, "title");
                }
                else if (reader.ValueTextEquals("text"u8))
                {
                    reader.Read();
                    text = ReadText(lines, ref reader, "text");
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            // Anything after the object's closing brace (a second object, stray text) is malformed.
            if (reader.BytesConsumed < json.Length && json[(int)reader.BytesConsumed..].Trim(" \t\r"u8).Length > 0)
                throw lines.Error("expected one JSON object per line, found more text after it");
        }
        catch (JsonException e)
        {
            throw lines.Error($"malformed JSON ({e.Message})", e);
        }
        if (string.IsNullOrEmpty(id)) throw lines.Error("expected a non-empty \"_id\", found none");
        if (text is null) throw lines.Error($"expected a \"text\" field for '{id}', found none");
        return new Entry(id, expectTitle ? title ?? "" : "", text);
    }

    private static string? ReadText(TextFileLines lines, ref Utf8JsonReader reader, string name) =>
        reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Null => null,
            _ => throw lines.Error($"expected \"{name}\" to be a string, found {reader.TokenType}"),
        };
}
