using Retrieval.Index.Errors;

namespace Retrieval.Bench.Evaluation;

/// <summary>
/// Summary of per-query latencies in microseconds: mean, min, max and the 50th, 95th and 99th percentiles.
/// </summary>
/// <remarks>
/// Percentiles use the <b>nearest-rank</b> definition: P_p is the value at rank ⌈p/100 · n⌉ (1-based) of the sorted
/// latencies, so every reported percentile is a latency that was actually measured (with 100 queries p99 is the
/// second-slowest; with fewer than 100, p99 is the slowest). Throughput is not derived from these: with several
/// threads, queries overlap, so QPS comes from the batch's wall time (<see cref="QueriesPerSecond"/>).
/// </remarks>
public readonly record struct LatencyStats(int Count, double MeanUs, double P50Us, double P95Us, double P99Us,
    double MinUs, double MaxUs)
{
    /// <summary>
    /// Summarises <paramref name="latenciesUs"/> (one entry per query, microseconds). Throws InvalidInput for an
    /// empty input or a negative, NaN or infinite latency. Sorts a copy; the input is not modified.
    /// </summary>
    public static LatencyStats FromMicroseconds(ReadOnlySpan<double> latenciesUs)
    {
        if (latenciesUs.IsEmpty) Guard.ThrowInvalid("latency statistics need at least one measured query, got none");
        var sorted = latenciesUs.ToArray();
        double sum = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            double v = sorted[i];
            if (!(v >= 0) || double.IsInfinity(v))
                Guard.ThrowInvalid($"latency #{i} is {v} us; latencies must be finite and >= 0");
            sum += v;
        }
        Array.Sort(sorted);
        return new LatencyStats(sorted.Length, sum / sorted.Length,
            NearestRank(sorted, 50), NearestRank(sorted, 95), NearestRank(sorted, 99),
            sorted[0], sorted[^1]);
    }

    /// <summary>Summarises latencies measured in <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
    public static LatencyStats FromStopwatchTicks(ReadOnlySpan<long> ticks)
    {
        var us = new double[ticks.Length];
        double usPerTick = 1e6 / System.Diagnostics.Stopwatch.Frequency;
        for (int i = 0; i < ticks.Length; i++) us[i] = ticks[i] * usPerTick;
        return FromMicroseconds(us);
    }

    /// <summary>
    /// Nearest-rank percentile of an ascending-sorted, non-empty sample: the value at 1-based rank ⌈p/100 · n⌉
    /// (rank 1 for p = 0).
    /// </summary>
    public static double NearestRank(ReadOnlySpan<double> sortedAscending, double percentile)
    {
        if (sortedAscending.IsEmpty) Guard.ThrowInvalid("percentile of an empty sample");
        if (!(percentile >= 0 && percentile <= 100)) Guard.ThrowInvalid($"percentile must be in [0, 100], got {percentile}");
        int n = sortedAscending.Length;
        // Subtract a hair before the ceiling: 7/100.0*100 is 7.000000000000001 in doubles and must stay rank 7.
        int rank = (int)Math.Ceiling(percentile / 100.0 * n - 1e-9);
        return sortedAscending[Math.Clamp(rank, 1, n) - 1];
    }

    /// <summary>Queries per second of a batch: <paramref name="queryCount"/> / wall seconds. Throws InvalidInput for a
    /// negative count or a wall time that is not positive.</summary>
    public static double QueriesPerSecond(long queryCount, TimeSpan wallTime) =>
        QueriesPerSecond(queryCount, wallTime.TotalSeconds);

    /// <inheritdoc cref="QueriesPerSecond(long, TimeSpan)"/>
    public static double QueriesPerSecond(long queryCount, double wallSeconds)
    {
        if (queryCount < 0) Guard.ThrowInvalid($"query count must be >= 0, got {queryCount}");
        if (!(wallSeconds > 0) || double.IsInfinity(wallSeconds))
            Guard.ThrowInvalid($"wall time must be a positive finite number of seconds, got {wallSeconds}");
        return queryCount / wallSeconds;
    }
}
