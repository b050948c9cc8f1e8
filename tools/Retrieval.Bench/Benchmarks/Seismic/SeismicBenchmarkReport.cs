using System.Globalization;
using System.Text;

namespace Retrieval.Bench.Benchmarks.Seismic;

/// <summary>
/// One method on one dataset: recall@k against exact search (tie-aware), one-thread latency, throughput on one thread
/// and across cores, work per query, index sizes and build cost, and (Seismic) the managed memory the index holds
/// once opened from disk. Null where a field does not apply.
/// </summary>
public sealed record SeismicBenchmarkRow(
    string Dataset,
    string Method,
    string Config,
    double RecallAtK,
    double? NdcgAt10,
    double MeanUs,
    double P50Us,
    double P99Us,
    double QpsOneThread,
    double? QpsBatch,
    double? DocumentsScoredPerQuery,
    long? ForwardBytes,
    long? ListBytes,
    long? SummaryBytes,
    long? DiskBytes,
    double? BuildSeconds,
    long? PeakBuildBytes,
    long? ResidentBytes = null);

/// <summary>Where a Seismic configuration's query time goes: summary scoring vs exact document scoring (one thread).</summary>
public sealed record SeismicProfile(string Dataset, string Config, double SummarySecondsPerQuery, double DocumentSecondsPerQuery,
    double OtherSecondsPerQuery, double SummaryEntriesPerQuery, double BlocksScoredPerQuery, double BlocksSkippedPerQuery,
    double DocumentsScoredPerQuery);

/// <summary>Everything one run of the benchmark measured, with the notes needed to read it.</summary>
public sealed record SeismicBenchmarkReport(
    IReadOnlyList<SeismicBenchmarkRow> Rows,
    IReadOnlyList<SeismicProfile> Profiles,
    IReadOnlyList<string> Notes,
    double WallSeconds,
    double CpuSeconds,
    int ProcessorCount)
{
    /// <summary>A fixed-width text table of the rows, then profiles and notes.</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(string.Format(inv, "{0,-9} {1,-8} {2,-14} {3,7} {4,7} {5,9} {6,9} {7,9} {8,9} {9,9} {10,9} {11,9} {12,9} {13,9} {14,9} {15,8} {16,8} {17,8}",
            "dataset", "method", "config", "recall", "ndcg10", "mean_us", "p50_us", "p99_us", "qps_1t", "qps_all", "docs/q",
            "fwd_MB", "lists_MB", "summ_MB", "disk_MB", "build_s", "peak_MB", "res_MB"));
        foreach (var r in Rows)
        {
            sb.AppendLine(string.Format(inv, "{0,-9} {1,-8} {2,-14} {3,7:F4} {4,7} {5,9:F1} {6,9:F1} {7,9:F1} {8,9:F1} {9,9} {10,9} {11,9} {12,9} {13,9} {14,9} {15,8} {16,8} {17,8}",
                r.Dataset, r.Method, r.Config, r.RecallAtK, Opt(r.NdcgAt10, "F4"), r.MeanUs, r.P50Us, r.P99Us, r.QpsOneThread,
                Opt(r.QpsBatch, "F0"), Opt(r.DocumentsScoredPerQuery, "F0"), Mb(r.ForwardBytes), Mb(r.ListBytes), Mb(r.SummaryBytes),
                Mb(r.DiskBytes), Opt(r.BuildSeconds, "F1"), Mb(r.PeakBuildBytes), Mb(r.ResidentBytes)));
        }
        foreach (var p in Profiles)
        {
            sb.AppendLine(string.Format(inv,
                "profile {0} {1}: summaries {2:F1} us/q ({3:F0} entries), documents {4:F1} us/q ({5:F0} docs, {6:F0} blocks scored, {7:F0} skipped), other {8:F1} us/q",
                p.Dataset, p.Config, p.SummarySecondsPerQuery * 1e6, p.SummaryEntriesPerQuery, p.DocumentSecondsPerQuery * 1e6,
                p.DocumentsScoredPerQuery, p.BlocksScoredPerQuery, p.BlocksSkippedPerQuery, p.OtherSecondsPerQuery * 1e6));
        }
        foreach (var n in Notes) sb.AppendLine(n);
        sb.AppendLine(string.Format(inv, "wall {0:F1} s, process CPU {1:F1} s, {2} logical cores", WallSeconds, CpuSeconds, ProcessorCount));
        return sb.ToString();
    }

    private static string Opt(double? v, string format) => v is double d ? d.ToString(format, CultureInfo.InvariantCulture) : "-";
    private static string Mb(long? bytes) => bytes is long b ? (b / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) : "-";
}
