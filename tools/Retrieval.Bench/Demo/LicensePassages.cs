using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Bench.Demo;

/// <summary>One passage of the demo corpus: id "FILE:PARAGRAPH", the file it came from, and its text.</summary>
public sealed record DemoPassage(string Id, string Source, int Paragraph, string Text);

/// <summary>
/// The demo corpus: paragraphs of the licence texts every Debian and Ubuntu system ships in
/// /usr/share/common-licenses (package base-files, which is Essential, so the folder exists on a fresh machine and
/// nothing is downloaded). Files are read in name order, symbolic links to another file of the folder skipped,
/// paragraphs split at blank lines with whitespace collapsed; paragraphs under 8 words (headings, signatures) are
/// dropped and long ones are cut at the last space before 512 characters. The first paragraphs of every file come
/// first (round robin), so a small limit still covers every licence.
/// </summary>
public static class LicensePassages
{
    public const string DefaultDirectory = "/usr/share/common-licenses";
    public const int MaxChars = 512;
    public const int MinWords = 8;

    public static IReadOnlyList<DemoPassage> Load(string directory = DefaultDirectory, int limit = 200)
    {
        if (limit < 1) Guard.ThrowInvalid($"passage limit must be >= 1, got {limit}");
        if (!Directory.Exists(directory))
            throw new RetrievalException(ErrorKind.NotFound,
                $"{directory} does not exist: the demo corpus is the licence texts of Debian's base-files package; on another system pass --texts FILE (one passage per line)");
        var perFile = new List<List<DemoPassage>>();
        var files = Directory.GetFiles(directory);
        Array.Sort(files, StringComparer.Ordinal);
        foreach (var path in files)
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null) continue; // GPL -> GPL-3 etc.: the target is read under its own name
            string source = info.Name;
            var passages = new List<DemoPassage>();
            int paragraph = 0;
            foreach (var text in Paragraphs(File.ReadAllText(path)))
            {
                paragraph++;
                if (WordCount(text) < MinWords) continue;
                passages.Add(new DemoPassage($"{source}:{paragraph}", source, paragraph, Cap(text)));
            }
            if (passages.Count > 0) perFile.Add(passages);
        }
        if (perFile.Count == 0) throw new RetrievalException(ErrorKind.NotFound, $"{directory} holds no licence text with a paragraph of {MinWords}+ words");
        var result = new List<DemoPassage>(limit);
        for (int round = 0; result.Count < limit; round++)
        {
            bool any = false;
            foreach (var passages in perFile)
            {
                if (round >= passages.Count) continue;
                any = true;
                result.Add(passages[round]);
                if (result.Count == limit) break;
            }
            if (!any) break;
        }
        return result;
    }

    /// <summary>Passages from a text file: one a line, or "id TAB text" lines; blank lines skipped.</summary>
    public static IReadOnlyList<DemoPassage> LoadLines(string path, int limit = int.MaxValue)
    {
        if (!File.Exists(path)) throw new RetrievalException(ErrorKind.NotFound, $"{path} does not exist");
        var result = new List<DemoPassage>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int line = 0;
        string source = Path.GetFileName(path);
        foreach (var raw in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            int tab = raw.IndexOf('\t');
            string id = tab > 0 ? raw[..tab].Trim() : $"{source}:{line}";
            string text = Collapse(tab > 0 ? raw[(tab + 1)..] : raw);
            if (text.Length == 0) continue;
            if (!seen.Add(id)) throw new RetrievalException(ErrorKind.InvalidInput, $"{path} line {line}: id '{id}' repeats an earlier line");
            result.Add(new DemoPassage(id, source, line, Cap(text)));
            if (result.Count == limit) break;
        }
        if (result.Count == 0) throw new RetrievalException(ErrorKind.InvalidInput, $"{path} holds no text");
        return result;
    }

    private static IEnumerable<string> Paragraphs(string text)
    {
        var current = new StringBuilder();
        foreach (var line in text.Split('\n'))
        {
            if (line.Trim().Length == 0)
            {
                if (current.Length > 0) yield return Collapse(current.ToString());
                current.Clear();
            }
            else current.Append(line).Append(' ');
        }
        if (current.Length > 0) yield return Collapse(current.ToString());
    }

    private static string Collapse(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool space = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c)) { space = sb.Length > 0; continue; }
            if (space) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        return sb.ToString();
    }

    private static int WordCount(string text)
    {
        int words = 0;
        bool inWord = false;
        foreach (char c in text)
        {
            bool letter = !char.IsWhiteSpace(c);
            if (letter && !inWord) words++;
            inWord = letter;
        }
        return words;
    }

    private static string Cap(string text)
    {
        if (text.Length <= MaxChars) return text;
        int cut = text.LastIndexOf(' ', MaxChars);
        return text[..(cut > 0 ? cut : MaxChars)];
    }
}
