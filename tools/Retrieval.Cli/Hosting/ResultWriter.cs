using Retrieval.Bench.Reporting;
using Retrieval.Query.Indexes;

namespace Retrieval.Cli.Hosting;

/// <summary>
/// Writes a command's result lines. With --json each report is written (and flushed) the moment it is
/// ready, so a long sweep can be followed line by line; without it rows are collected and printed as one
/// aligned table by <see cref="Flush"/>, after an optional title.
/// </summary>
public sealed class ResultWriter(TextWriter output, bool json)
{
    private readonly List<IReport> _rows = [];

    public bool Json => json;

    public void Add(IReport report)
    {
        if (json)
        {
            output.WriteLine(ReportJson.ToJsonLine(report));
            output.Flush();
        }
        else
        {
            _rows.Add(report);
        }
    }

    /// <summary>Prints the collected table (no-op with --json); call once per group of rows sharing columns.</summary>
    public void Flush(string? title = null)
    {
        if (json || _rows.Count == 0) return;
        if (title is not null) output.WriteLine(title);
        output.Write(ReportTable.Render(_rows));
        output.Flush();
        _rows.Clear();
    }
}
