using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Anserini pre-tokenized topics: one query per line, "qid&lt;TAB&gt;tok tok tok ...", where a token's weight
/// is the number of times it repeats (how Anserini ships SPLADE/uniCOIL query vectors with quantised weights).
/// Tokens are resolved through a vocabulary; a .gz name is decompressed on the fly. Rows come out sorted by
/// term id.
/// </summary>
public static class AnseriniTopicsFile
{
    public static SparseDataset Read(string path, TermVocabulary vocabulary, SparseReadOptions? options = null)
    {
        options ??= SparseReadOptions.Default;
        options.Validate();
        var rows = new SparseRowBuilder();
        var ids = new List<string>();
        var unknown = new UnknownTokenTally(options.UnknownTokenSamples);
        var chars = new char[1024];
        using var lines = new Utf8LineReader(FormatFiles.OpenMaybeGzip(path));

        void AddToken(ReadOnlySpan<byte> tokenBytes, int repeats, long row, long lineNumber, long lineOffset)
        {
            if (vocabulary.TryGetId(tokenBytes, out int termId))
            {
                rows.Add(termId, repeats);
                return;
            }
            if (chars.Length < tokenBytes.Length) chars = new char[tokenBytes.Length * 2];
            var token = chars.AsSpan(0, Encoding.UTF8.GetChars(tokenBytes, chars));
            if (options.StrictVocabulary)
                throw new DataFormatException(path,
                    $"token '{token}' on line {lineNumber} is not in the vocabulary {vocabulary.Source}",
                    row: row, byteOffset: lineOffset, kind: ErrorKind.InvalidInput);
            unknown.Add(token, repeats);
        }

        try
        {
            while ((options.MaxRows is null || rows.RowCount < options.MaxRows) && lines.TryReadLine(out var line))
            {
                if (line.Trim((byte)' ').IsEmpty) continue;
                long row = rows.RowCount;
                int tab = line.IndexOf((byte)'\t');
                if (tab <= 0)
                    throw new DataFormatException(path,
                        tab == 0 ? $"line {lines.LineNumber} has an empty query id: expected qid<TAB>tokens"
                                 : $"line {lines.LineNumber} has no tab: expected qid<TAB>space-separated tokens",
                        row: row, byteOffset: lines.LineOffset, kind: ErrorKind.InvalidInput);
                ids.Add(Encoding.UTF8.GetString(line[..tab]));
                var rest = line[(tab + 1)..];
                // Weights are written as repeats ("cat cat cat "), so a run of one token is matched as a
                // repeated byte pattern and looked up once: SPLADE topic files run to a billion bytes.
                while (!rest.IsEmpty)
                {
                    int space = rest.IndexOf((byte)' ');
                    if (space == 0)
                    {
                        rest = rest[1..];
                        continue;
                    }
                    var token = space < 0 ? rest : rest[..space];
                    int repeats = 1;
                    if (space < 0)
                    {
                        rest = default;
                    }
                    else
                    {
                        var pattern = rest[..(space + 1)];
                        rest = rest[(space + 1)..];
                        while (rest.StartsWith(pattern))
                        {
                            repeats++;
                            rest = rest[pattern.Length..];
                        }
                        if (rest.SequenceEqual(token))
                        {
                            repeats++;
                            rest = default;
                        }
                    }
                    AddToken(token, repeats, row, lines.LineNumber, lines.LineOffset);
                }
                rows.CommitRow(sumRepeats: true);
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, $"gzip data is corrupt after line {lines.LineNumber}: {e.Message}", row: rows.RowCount, inner: e);
        }
        if (rows.RowCount == 0 && options.MaxRows != 0)
            throw new DataFormatException(path, $"file is empty ({lines.LineNumber} blank lines): expected one qid<TAB>tokens line per query", byteOffset: 0);
        return new SparseDataset(ids.ToArray(), rows.Build(vocabulary.Count), unknown.Occurrences, unknown.Distinct, unknown.Samples);
    }
}
