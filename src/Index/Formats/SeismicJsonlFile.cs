using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Seismic's JSONL input: one object per line, {"id": number or string, "vector": {"token": weight, ...}}
/// (a "content" text field and any other field are ignored). Tokens are resolved through a vocabulary; each
/// line is parsed with a streaming Utf8JsonReader straight from the file bytes, with no DOM and no string per
/// known token. Rows come out sorted by term id. A .gz name is decompressed on the fly.
/// </summary>
public static class SeismicJsonlFile
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow };

    public static SparseDataset Read(string path, TermVocabulary vocabulary, SparseReadOptions? options = null)
    {
        options ??= SparseReadOptions.Default;
        options.Validate();
        using var lines = new Utf8LineReader(FormatFiles.OpenMaybeGzip(path));
        var parser = new Parser(path, vocabulary, options);
        try
        {
            while ((options.MaxRows is null || parser.Rows.RowCount < options.MaxRows) && lines.TryReadLine(out var line))
            {
                if (line.Trim((byte)' ').IsEmpty) continue;
                parser.ParseLine(line, lines.LineNumber, lines.LineOffset);
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, $"gzip data is corrupt after line {lines.LineNumber}: {e.Message}", row: parser.Rows.RowCount, inner: e);
        }
        if (parser.Rows.RowCount == 0 && options.MaxRows != 0)
            throw new DataFormatException(path, $"file is empty ({lines.LineNumber} blank lines): expected one JSON object per line ({{\"id\": ..., \"vector\": {{\"token\": weight}}}})", byteOffset: 0);
        return new SparseDataset(parser.Ids.ToArray(), parser.Rows.Build(vocabulary.Count),
            parser.Unknown.Occurrences, parser.Unknown.Distinct, parser.Unknown.Samples);
    }

    public static void Write(string path, SparseDataset dataset, TermVocabulary vocabulary) =>
        Write(path, dataset.Ids, dataset.Vectors, vocabulary);

    /// <summary>
    /// Writes one {"id", "vector"} object per row; an id that is a canonical integer is written as a JSON number
    /// (Seismic's convention), any other id as a string. Weights use the shortest text that round-trips.
    /// </summary>
    public static void Write(string path, IReadOnlyList<string> ids, SparseMatrix vectors, TermVocabulary vocabulary)
    {
        if (ids.Count != vectors.RowCount) Guard.ThrowInvalid($"{ids.Count} ids for {vectors.RowCount} sparse vectors");
        if (vectors.ColumnCount > vocabulary.Count)
            Guard.ThrowInvalid($"sparse vectors have {vectors.ColumnCount} columns but the vocabulary {vocabulary.Source} has {vocabulary.Count} tokens");
        using var file = new AtomicFile(path);
        var writerOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false };
        using (var json = new Utf8JsonWriter(file.Stream, writerOptions))
        {
            WriteRows(json, file.Stream, ids, vectors, vocabulary);
        }
        file.Commit();
    }

    private static void WriteRows(Utf8JsonWriter json, Stream stream, IReadOnlyList<string> ids, SparseMatrix vectors, TermVocabulary vocabulary)
    {
        var encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        var encoded = new JsonEncodedText[vectors.ColumnCount];
        var encodedReady = new bool[vectors.ColumnCount];
        for (int r = 0; r < vectors.RowCount; r++)
        {
            json.WriteStartObject();
            if (IsCanonicalInteger(ids[r])) json.WriteNumber("id"u8, long.Parse(ids[r], System.Globalization.CultureInfo.InvariantCulture));
            else json.WriteString("id"u8, ids[r]);
            json.WriteStartObject("vector"u8);
            var row = vectors.Row(r);
            for (int j = 0; j < row.NonZeroCount; j++)
            {
                int term = row.Indices[j];
                // Each token's JSON form is encoded once per file, not once per occurrence.
                if (!encodedReady[term])
                {
                    encoded[term] = JsonEncodedText.Encode(vocabulary.Token(term), encoder);
                    encodedReady[term] = true;
                }
                json.WriteNumber(encoded[term], row.Values[j]);
            }
            json.WriteEndObject();
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
            json.Reset();
        }
    }

    private static bool IsCanonicalInteger(string id)
    {
        var s = id.AsSpan();
        if (s.Length > 0 && s[0] == '-') s = s[1..];
        if (s.Length == 0 || s.Length > 18 || (s[0] == '0' && (s.Length > 1 || id[0] == '-'))) return false;
        foreach (var c in s)
        {
            if (!char.IsAsciiDigit(c)) return false;
        }
        return true;
    }

    private sealed class Parser
    {
        private readonly string _path;
        private readonly TermVocabulary _vocabulary;
        private readonly SparseReadOptions _options;
        private char[] _chars = new char[256];

        public Parser(string path, TermVocabulary vocabulary, SparseReadOptions options)
        {
            _path = path;
            _vocabulary = vocabulary;
            _options = options;
            Unknown = new UnknownTokenTally(options.UnknownTokenSamples);
        }

        public SparseRowBuilder Rows { get; } = new();
        public List<string> Ids { get; } = [];
        public UnknownTokenTally Unknown { get; }

        public void ParseLine(ReadOnlySpan<byte> line, long lineNumber, long lineOffset)
        {
            long row = Rows.RowCount;
            var reader = new Utf8JsonReader(line, ReaderOptions);
            string? id = null;
            bool sawVector = false;
            try
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                    throw Malformed(row, lineNumber, lineOffset, reader, $"expected a JSON object, found {reader.TokenType}");
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("id"u8))
                    {
                        reader.Read();
                        id = reader.TokenType switch
                        {
                            JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                            JsonTokenType.String => reader.GetString(),
                            _ => throw Malformed(row, lineNumber, lineOffset, reader, $"\"id\" must be a number or a string, found {reader.TokenType}"),
                        };
                    }
                    else if (reader.ValueTextEquals("vector"u8))
                    {
                        reader.Read();
                        if (reader.TokenType != JsonTokenType.StartObject)
                            throw Malformed(row, lineNumber, lineOffset, reader, $"\"vector\" must be an object of token: weight, found {reader.TokenType}");
                        ParseVector(ref reader, row, lineNumber, lineOffset);
                        sawVector = true;
                    }
                    else
                    {
                        // "content" (the text) and unknown fields are not needed to build vectors.
                        reader.Read();
                        reader.Skip();
                    }
                }
                if (reader.TokenType != JsonTokenType.EndObject)
                    throw Malformed(row, lineNumber, lineOffset, reader, $"expected a property name or '}}', found {reader.TokenType}");
                if (reader.Read())
                    throw Malformed(row, lineNumber, lineOffset, reader, "unexpected content after the object (one object per line)");
            }
            catch (JsonException e)
            {
                throw new DataFormatException(_path, $"malformed JSON on line {lineNumber}: {e.Message}", row: row,
                    byteOffset: lineOffset + (e.BytePositionInLine ?? 0), inner: e);
            }
            if (id is null) throw Malformed(row, lineNumber, lineOffset, reader, "the object has no \"id\"");
            if (!sawVector) throw Malformed(row, lineNumber, lineOffset, reader, "the object has no \"vector\"");
            int duplicate = Rows.CommitRow(sumRepeats: false);
            if (duplicate >= 0)
                throw new DataFormatException(_path,
                    $"duplicate token '{_vocabulary.Token(duplicate)}' (term id {duplicate}) in the vector on line {lineNumber}: expected each token once",
                    row: row, byteOffset: lineOffset);
            Ids.Add(id);
        }

        private void ParseVector(ref Utf8JsonReader reader, long row, long lineNumber, long lineOffset)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                // Tokens without JSON escapes (nearly all) are looked up as the raw UTF-8 bytes of the line.
                var raw = reader.ValueSpan;
                bool escaped = reader.ValueIsEscaped;
                ReadOnlySpan<char> decoded = default;
                if (escaped)
                {
                    if (_chars.Length < raw.Length) _chars = new char[Math.Max(raw.Length, _chars.Length * 2)];
                    decoded = _chars.AsSpan(0, reader.CopyString(_chars));
                }
                long tokenOffset = reader.TokenStartIndex;
                if (!reader.Read() || reader.TokenType != JsonTokenType.Number)
                    throw Malformed(row, lineNumber, lineOffset, reader, $"the weight of token '{TokenText(raw, escaped, decoded)}' must be a number, found {reader.TokenType}");
                if (!reader.TryGetDouble(out double wide))
                    throw Malformed(row, lineNumber, lineOffset, reader, $"the weight of token '{TokenText(raw, escaped, decoded)}' is not a number");
                float weight = (float)wide;
                if (!float.IsFinite(weight))
                    throw Malformed(row, lineNumber, lineOffset, reader, $"the weight of token '{TokenText(raw, escaped, decoded)}' is {wide}, outside the float32 range: expected a finite weight");
                if (weight < 0 && !_options.AllowNegativeWeights)
                    throw Malformed(row, lineNumber, lineOffset, reader, $"the weight of token '{TokenText(raw, escaped, decoded)}' is {wide}: expected a non-negative weight");
                bool known = escaped ? _vocabulary.TryGetId(decoded, out int termId) : _vocabulary.TryGetId(raw, out termId);
                if (known)
                {
                    Rows.Add(termId, weight);
                }
                else
                {
                    if (_options.StrictVocabulary)
                        throw new DataFormatException(_path,
                            $"token '{TokenText(raw, escaped, decoded)}' on line {lineNumber} is not in the vocabulary {_vocabulary.Source}",
                            row: row, byteOffset: lineOffset + tokenOffset, kind: ErrorKind.InvalidInput);
                    if (!escaped)
                    {
                        if (_chars.Length < raw.Length) _chars = new char[Math.Max(raw.Length, _chars.Length * 2)];
                        decoded = _chars.AsSpan(0, Encoding.UTF8.GetChars(raw, _chars));
                    }
                    Unknown.Add(decoded);
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject)
                throw Malformed(row, lineNumber, lineOffset, reader, $"expected a token or '}}' in \"vector\", found {reader.TokenType}");
        }

        private static string TokenText(ReadOnlySpan<byte> raw, bool escaped, ReadOnlySpan<char> decoded) =>
            escaped ? decoded.ToString() : Encoding.UTF8.GetString(raw);

        private DataFormatException Malformed(long row, long lineNumber, long lineOffset, in Utf8JsonReader reader, string problem) =>
            new(_path, $"line {lineNumber}: {problem}", row: row, byteOffset: lineOffset + reader.TokenStartIndex,
                kind: ErrorKind.InvalidInput);
    }
}
