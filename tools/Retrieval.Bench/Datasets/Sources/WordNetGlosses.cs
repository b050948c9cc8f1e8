using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets.Sources;

/// <summary>
/// WordNet 3.0 synsets as passages "lemma: gloss" from the data.noun/verb/adj/adv files (wndb(5WN) format:
/// <c>offset lex_filenum ss_type w_cnt word lex_id ... | gloss</c>). The first lemma stands for the synset, with
/// '_' read as a space and any adjective marker such as "(p)" kept; the gloss keeps its quoted examples.
/// Ids are wn:&lt;pos&gt;&lt;offset&gt; with pos n, v, a (adjectives and satellites) or r.
/// </summary>
public static class WordNetGlosses
{
    /// <summary>The data files in the order passages are taken from them, with each one's id letter.</summary>
    public static readonly (string File, char Pos)[] DataFiles =
        [("data.noun", 'n'), ("data.verb", 'v'), ("data.adj", 'a'), ("data.adv", 'r')];

    /// <summary>Every synset of the four data files under <paramref name="wordnetDirectory"/>, file by file.</summary>
    public static IEnumerable<Passage> Read(string wordnetDirectory)
    {
        foreach (var (file, pos) in DataFiles)
        {
            var path = Path.Combine(wordnetDirectory, file);
            if (!File.Exists(path))
                throw new RetrievalException(ErrorKind.NotFound, $"WordNet data file missing: {path} (from the Debian package wordnet-base)");
            long row = 0;
            foreach (var line in File.ReadLines(path))
            {
                var passage = ParseLine(line, pos, path, row++);
                if (passage is not null) yield return passage.Value;
            }
        }
    }

    /// <summary>
    /// One data-file line as a passage; null for the licence header (lines starting with two spaces).
    /// A line that is neither throws a <see cref="DataFormatException"/> naming the file and line.
    /// </summary>
    public static Passage? ParseLine(string line, char pos, string path = "data", long row = 0)
    {
        if (line.Length == 0 || line.StartsWith("  ", StringComparison.Ordinal)) return null;
        int bar = line.IndexOf(" | ", StringComparison.Ordinal);
        var head = bar < 0 ? line : line[..bar];
        var gloss = bar < 0 ? "" : line[(bar + 3)..];
        // offset lex_filenum ss_type w_cnt word ...
        var fields = head.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 5 || fields[0].Length != 8 || !IsDigits(fields[0]))
            throw new DataFormatException(path, $"expected a WordNet synset line 'offset lex_filenum ss_type w_cnt word ...', found '{Shorten(line)}'", row);
        var lemma = fields[4].Replace('_', ' ');
        return new Passage($"wn:{pos}{fields[0]}", PassageText.CollapseWhitespace($"{lemma}: {gloss}"));
    }

    private static bool IsDigits(string s)
    {
        foreach (var c in s)
        {
            if (c is < '0' or > '9') return false;
        }
        return true;
    }

    private static string Shorten(string line) => line.Length <= 80 ? line : line[..80] + "...";
}
