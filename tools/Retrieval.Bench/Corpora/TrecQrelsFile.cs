namespace Retrieval.Bench.Corpora;

/// <summary>
/// TREC qrels: one judgement per line, <c>query-id iteration doc-id grade</c>, separated by spaces or tabs
/// (the iteration column is ignored, conventionally 0). Grades are integers; a pair judged twice, a line with
/// another number of fields, and an empty file are errors.
/// </summary>
public static class TrecQrelsFile
{
    public static Qrels Read(string path)
    {
        var qrels = new Qrels();
        using var lines = TextFileLines.Open(path);
        Span<Range> fields = stackalloc Range[5];
        while (lines.TryRead(out var line))
        {
            var span = line.AsSpan();
            int count = SplitWhitespace(span, fields);
            if (count != 4)
                throw lines.Error($"expected 4 whitespace-separated fields (query-id iteration doc-id grade), found {(count > 4 ? "more than 4" : count.ToString())}: {TextFileLines.Excerpt(line)}");
            var gradeText = span[fields[3]];
            if (!int.TryParse(gradeText, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var grade))
                throw lines.Error($"expected an integer grade in field 4, found \"{gradeText}\"");
            string queryId = span[fields[0]].ToString();
            string docId = span[fields[2]].ToString();
            if (!qrels.TryAdd(queryId, docId, grade))
                throw lines.Error($"query '{queryId}' / document '{docId}' is judged twice");
        }
        if (qrels.Count == 0) throw lines.FileError("expected at least one 'query-id 0 doc-id grade' line, found an empty file");
        return qrels;
    }

    /// <summary>Splits on runs of spaces/tabs; returns the field count, capped at destination.Length.</summary>
    internal static int SplitWhitespace(ReadOnlySpan<char> line, Span<Range> destination)
    {
        int count = 0, i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && (line[i] == ' ' || line[i] == '\t')) i++;
            if (i >= line.Length) break;
            int start = i;
            while (i < line.Length && line[i] != ' ' && line[i] != '\t') i++;
            if (count == destination.Length) return count;
            destination[count++] = new Range(start, i);
        }
        return count;
    }
}
