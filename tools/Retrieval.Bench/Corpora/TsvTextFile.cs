namespace Retrieval.Bench.Corpora;

/// <summary>
/// <c>id&lt;TAB&gt;text</c> files (MS MARCO collection style; gzip when the name ends in .gz). Each line holds
/// exactly one tab: a non-empty id, then the text (which may be empty). Ids must be unique; a file with no
/// records is an error.
/// </summary>
public static class TsvTextFile
{
    /// <summary>Reads the whole file, checking every line and that no id repeats.</summary>
    public static TextCollection Read(string path)
    {
        var ids = new List<string>();
        var texts = new List<string>();
        var firstLine = new Dictionary<string, long>(StringComparer.Ordinal);
        using var lines = TextFileLines.Open(path);
        while (lines.TryRead(out var line))
        {
            var record = Parse(lines, line);
            if (!firstLine.TryAdd(record.Id, lines.LineNumber))
                throw lines.Error($"duplicate id '{record.Id}' (first seen on line {firstLine[record.Id]})");
            ids.Add(record.Id);
            texts.Add(record.Text);
        }
        if (ids.Count == 0) throw lines.FileError("expected at least one 'id<TAB>text' line, found an empty file");
        return new TextCollection([.. ids], [.. texts]);
    }

    /// <summary>
    /// Streams the records in file order without holding the file in memory. Every line's shape is checked;
    /// repeated ids are not (that needs every id in memory: use <see cref="Read"/>).
    /// </summary>
    public static IEnumerable<TextRecord> Enumerate(string path)
    {
        using var lines = TextFileLines.Open(path);
        bool any = false;
        while (lines.TryRead(out var line))
        {
            any = true;
            yield return Parse(lines, line);
        }
        if (!any) throw lines.FileError("expected at least one 'id<TAB>text' line, found an empty file");
    }

    private static TextRecord Parse(TextFileLines lines, string line)
    {
        int tab = line.IndexOf('\t');
        if (tab < 0)
            throw lines.Error($"expected 2 tab-separated fields (id, text), found 1: {TextFileLines.Excerpt(line)}");
        if (line.IndexOf('\t', tab + 1) >= 0)
            throw lines.Error($"expected 2 tab-separated fields (id, text), found {CountTabs(line) + 1}: {TextFileLines.Excerpt(line)}");
        if (tab == 0 || string.IsNullOrWhiteSpace(line.AsSpan(0, tab).ToString()))
            throw lines.Error("expected a non-empty id before the tab, found an empty id");
        return new TextRecord(line[..tab], line[(tab + 1)..]);
    }

    private static int CountTabs(string line)
    {
        int n = 0;
        foreach (var c in line) if (c == '\t') n++;
        return n;
    }
}
