using System.Globalization;
using System.Text;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Reporting;

/// <summary>
/// The human-readable form of result lines (commands without --json): one row per report, one column per
/// field, columns that are null on every row left out, numbers shortened (bytes as KiB/MiB/GiB, latency to
/// 0.1 µs) so a sweep fits a terminal.
/// </summary>
public static class ReportTable
{
    public static string Render(IReadOnlyList<IReport> reports)
    {
        if (reports.Count == 0) return "";
        var rows = new List<IReadOnlyList<ReportField>>(reports.Count);
        foreach (var report in reports) rows.Add(report.Fields());

        // Column order: first appearance across rows (null or not), so fields keep their declared order; then
        // columns that are null on every row are dropped.
        var columns = new List<string>();
        foreach (var row in rows)
        {
            foreach (var field in row)
            {
                if (!columns.Contains(field.Name)) columns.Add(field.Name);
            }
        }
        columns.RemoveAll(name => rows.TrueForAll(row => Find(row, name) is null));

        var cells = new string[rows.Count + 1][];
        cells[0] = new string[columns.Count];
        for (int c = 0; c < columns.Count; c++) cells[0][c] = Header(columns[c]);
        for (int r = 0; r < rows.Count; r++)
        {
            cells[r + 1] = new string[columns.Count];
            for (int c = 0; c < columns.Count; c++) cells[r + 1][c] = Format(columns[c], Find(rows[r], columns[c]));
        }

        var textColumn = new bool[columns.Count];
        for (int c = 0; c < columns.Count; c++)
            textColumn[c] = rows.Exists(row => Find(row, columns[c]) is string or bool);

        var widths = new int[columns.Count];
        foreach (var line in cells)
        {
            for (int c = 0; c < line.Length; c++) widths[c] = Math.Max(widths[c], line[c].Length);
        }

        var text = new StringBuilder();
        for (int r = 0; r < cells.Length; r++)
        {
            for (int c = 0; c < columns.Count; c++)
            {
                if (c > 0) text.Append("  ");
                // Text left-aligned, numbers right-aligned, as a reader scans them.
                bool leftAlign = r == 0 || textColumn[c];
                text.Append(leftAlign ? cells[r][c].PadRight(widths[c]) : cells[r][c].PadLeft(widths[c]));
            }
            TrimEnd(text);
            text.Append('\n');
            if (r == 0)
            {
                for (int c = 0; c < columns.Count; c++)
                {
                    if (c > 0) text.Append("  ");
                    text.Append('-', widths[c]);
                }
                text.Append('\n');
            }
        }
        return text.ToString();
    }

    private static object? Find(IReadOnlyList<ReportField> row, string name)
    {
        foreach (var field in row)
        {
            if (field.Name == name) return field.Value;
        }
        return null;
    }

    private static void TrimEnd(StringBuilder text)
    {
        int end = text.Length;
        while (end > 0 && text[end - 1] == ' ') end--;
        text.Length = end;
    }

    private static string Header(string name) => name switch
    {
        "recall_at_k" => "recall@k",
        "ndcg_at_10" => "nDCG@10",
        "mrr_at_10" => "MRR@10",
        "recall_at_100" => "recall@100",
        "qps" => "QPS",
        _ => name.Replace('_', ' '),
    };

    internal static string Format(string name, object? value)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (value)
        {
            case null: return "-";
            case string s: return s;
            case bool b: return b ? "yes" : "no";
            case double d when !double.IsFinite(d): return "-";
            case float f when !float.IsFinite(f): return "-";
        }
        double number = Convert.ToDouble(value, inv);
        if (IsBytes(name))
            return FormatBytes(number) + (name.EndsWith("_per_second", StringComparison.Ordinal) ? "/s" : "");
        if (name.EndsWith("_us", StringComparison.Ordinal)) return number.ToString("F1", inv);
        if (name == "seconds" || name.EndsWith("_seconds", StringComparison.Ordinal)) return number.ToString("F2", inv);
        if (name is "qps" || name.EndsWith("_per_second", StringComparison.Ordinal))
            return number.ToString(number >= 100 ? "N0" : "F1", inv);
        if (value is int or long) return Convert.ToInt64(value, inv).ToString(inv);
        if (name.Contains("recall") || name.Contains("ndcg") || name.Contains("mrr") || name.Contains("fraction"))
            return number.ToString("F4", inv);
        return number.ToString("G5", inv);
    }

    private static bool IsBytes(string name) =>
        name.EndsWith("_bytes", StringComparison.Ordinal) || name.StartsWith("bytes_", StringComparison.Ordinal) ||
        name.Contains("_bytes_", StringComparison.Ordinal);

    /// <summary>Binary units: 1 KiB = 1024 bytes. Rates ("…_bytes_per_second") get the same units plus "/s".</summary>
    internal static string FormatBytes(double bytes)
    {
        var inv = CultureInfo.InvariantCulture;
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        int unit = 0;
        double scaled = bytes;
        while (Math.Abs(scaled) >= 1024 && unit < units.Length - 1)
        {
            scaled /= 1024;
            unit++;
        }
        return unit == 0 ? scaled.ToString("F0", inv) + " B" : scaled.ToString("F1", inv) + " " + units[unit];
    }
}
