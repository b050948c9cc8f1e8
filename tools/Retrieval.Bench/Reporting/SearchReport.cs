using Retrieval.Index.Errors;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Reporting;

/// <summary>
/// The one result schema of every search and bench command (the output contract later indexes keep):
/// what was searched, how well (recall@k against exact ground truth) and how fast (per-query latency in
/// microseconds, queries per second), plus the memory and I/O it took. A field that does not apply (no
/// ground truth, an in-memory index that reads nothing from disk) is null and is written as JSON null.
/// <para><see cref="Settings"/> (the search parameters of a --sweep line) and <see cref="Details"/> (extra
/// measurements, e.g. a benchmark's bandwidth fraction) follow the fixed fields in the same JSON object.</para>
/// </summary>
public sealed record SearchReport : IReport
{
    /// <summary>The fixed field names, in output order.</summary>
    public static readonly IReadOnlyList<string> FieldNames =
    [
        "index", "queries", "k", "recall_at_k", "mean_us", "p50_us", "p95_us", "p99_us", "qps", "threads",
        "resident_bytes", "index_resident_bytes", "index_bytes_on_disk", "bytes_read_per_query", "reads_per_query",
    ];

    /// <summary>Index kind that answered: "exact", later "spann", "seismic", ...</summary>
    public required string Index { get; init; }
    /// <summary>Number of queries searched.</summary>
    public required int Queries { get; init; }
    public required int K { get; init; }
    /// <summary>Mean recall@k against the ground truth; null when none was given.</summary>
    public double? RecallAtK { get; init; }
    /// <summary>Single-query latency, microseconds (null when only batched throughput was measured).</summary>
    public double? MeanUs { get; init; }
    public double? P50Us { get; init; }
    public double? P95Us { get; init; }
    public double? P99Us { get; init; }
    /// <summary>Queries per second over the whole run (batched when threads > 1).</summary>
    public double? Qps { get; init; }
    public int? Threads { get; init; }
    /// <summary>Resident set size of the process after the search, bytes.</summary>
    public long? ResidentBytes { get; init; }
    /// <summary>
    /// What the index costs in memory, measured: the process's resident set (VmRSS) after this line's searches minus
    /// the resident set just before the index was opened (queries and ground truth already loaded, so they are not
    /// billed to it). Null when the caller did not mark the opening (e.g. an index built in the same process).
    /// </summary>
    public long? IndexResidentBytes { get; init; }
    /// <summary>Size of the index files on disk; null for an in-memory index (exact search).</summary>
    public long? IndexBytesOnDisk { get; init; }
    /// <summary>Mean bytes read from storage per query; null for an in-memory index.</summary>
    public double? BytesReadPerQuery { get; init; }
    /// <summary>Mean read requests issued per query; null for an in-memory index.</summary>
    public double? ReadsPerQuery { get; init; }

    /// <summary>Search settings of this line (one per --sweep point); names must not repeat a fixed field.</summary>
    public IReadOnlyList<ReportField> Settings { get; init; } = [];
    /// <summary>Additional measurements, written after the settings.</summary>
    public IReadOnlyList<ReportField> Details { get; init; } = [];

    public IReadOnlyList<ReportField> Fields()
    {
        var fields = new List<ReportField>(FieldNames.Count + Settings.Count + Details.Count)
        {
            new("index", Index),
            new("queries", Queries),
            new("k", K),
            new("recall_at_k", RecallAtK),
            new("mean_us", MeanUs),
            new("p50_us", P50Us),
            new("p95_us", P95Us),
            new("p99_us", P99Us),
            new("qps", Qps),
            new("threads", Threads),
            new("resident_bytes", ResidentBytes),
            new("index_resident_bytes", IndexResidentBytes),
            new("index_bytes_on_disk", IndexBytesOnDisk),
            new("bytes_read_per_query", BytesReadPerQuery),
            new("reads_per_query", ReadsPerQuery),
        };
        AppendExtra(fields, Settings);
        AppendExtra(fields, Details);
        return fields;
    }

    private static void AppendExtra(List<ReportField> fields, IReadOnlyList<ReportField> extra)
    {
        foreach (var field in extra)
        {
            // A duplicate key would make the JSON line ambiguous to every reader downstream.
            foreach (var existing in fields)
            {
                if (existing.Name == field.Name)
                    throw new RetrievalException(ErrorKind.Internal, $"report field '{field.Name}' is set twice");
            }
            fields.Add(field);
        }
    }
}
