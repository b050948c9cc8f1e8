using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets.Sources;

/// <summary>One package description of a Translation-en file.</summary>
public readonly record struct DebianDescription(string Package, string Md5, string Short, string Long);

/// <summary>
/// Debian package descriptions from Translation-en files (deb822 stanzas with Package, Description-md5 and
/// Description-en). The short description is the first line; the long one is the continuation lines, each
/// trimmed and joined with spaces, its paragraphs (separated by " ." lines) joined with " ¶ ". Whitespace is
/// collapsed in both. Passages are deb:&lt;md5&gt;, queries debq:&lt;md5&gt;; a description already seen (same
/// md5, as when a package is in several suites) is skipped.
/// </summary>
public static class DebianDescriptions
{
    public const string ParagraphMark = " ¶ ";

    /// <summary>Descriptions of several Translation-en files read in the given order, first md5 wins.</summary>
    public static IEnumerable<DebianDescription> Read(IEnumerable<string> translationFiles)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in translationFiles)
        {
            using var reader = new StreamReader(path);
            foreach (var description in Parse(reader, path))
            {
                if (seen.Add(description.Md5)) yield return description;
            }
        }
    }

    /// <summary>Parses one Translation-en text. Stanzas without Description-en are skipped; a malformed line throws.</summary>
    public static IEnumerable<DebianDescription> Parse(TextReader reader, string path = "Translation-en")
    {
        string? package = null, md5 = null;
        List<string>? description = null;
        long row = -1;
        bool inDescription = false;
        string? line;
        while (true)
        {
            line = reader.ReadLine();
            row++;
            if (line is null || line.Length == 0)
            {
                if (description is not null)
                {
                    if (md5 is null)
                        throw new DataFormatException(path, $"stanza of package '{package}' has Description-en but no Description-md5", row);
                    yield return Build(package ?? "", md5, description);
                }
                package = md5 = null;
                description = null;
                inDescription = false;
                if (line is null) yield break;
                continue;
            }
            if (line[0] == ' ' || line[0] == '\t')
            {
                if (inDescription) description!.Add(line);
                continue;
            }
            int colon = line.IndexOf(':');
            if (colon <= 0) throw new DataFormatException(path, $"expected 'Field: value' or a continuation line, found '{line}'", row);
            var field = line[..colon];
            var value = line[(colon + 1)..].Trim();
            inDescription = false;
            switch (field)
            {
                case "Package": package = value; break;
                case "Description-md5": md5 = value; break;
                case "Description-en":
                    description = [value];
                    inDescription = true;
                    break;
            }
        }
    }

    private static DebianDescription Build(string package, string md5, List<string> lines)
    {
        var paragraphs = new List<string>();
        var current = new System.Text.StringBuilder();
        for (int i = 1; i < lines.Count; i++)
        {
            var trimmed = lines[i].Trim();
            if (trimmed == ".")
            {
                Flush();
                continue;
            }
            if (current.Length > 0) current.Append(' ');
            current.Append(trimmed);
        }
        Flush();
        return new DebianDescription(package, md5, PassageText.CollapseWhitespace(lines[0]), string.Join(ParagraphMark, paragraphs));

        void Flush()
        {
            var text = PassageText.CollapseWhitespace(current.ToString());
            if (text.Length > 0) paragraphs.Add(text);
            current.Clear();
        }
    }
}
