using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Reporting;

/// <summary>The result line of every `retrieval build KIND` command.</summary>
public sealed record BuildReport : IReport
{
    public required double BuildSeconds { get; init; }
    public long? IndexBytesOnDisk { get; init; }
    public long? PeakRssBytes { get; init; }
    /// <summary>Build parameters and counts, written after the fixed fields.</summary>
    public IReadOnlyList<ReportField> Details { get; init; } = [];

    public IReadOnlyList<ReportField> Fields()
    {
        var fields = new List<ReportField>(3 + Details.Count)
        {
            new("build_seconds", BuildSeconds),
            new("index_bytes_on_disk", IndexBytesOnDisk),
            new("peak_rss_bytes", PeakRssBytes),
        };
        fields.AddRange(Details);
        return fields;
    }
}
