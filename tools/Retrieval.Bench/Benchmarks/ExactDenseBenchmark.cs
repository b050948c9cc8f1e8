using System.Diagnostics;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Benchmarks;

/// <summary>Settings of <see cref="ExactDenseBenchmark"/>; defaults suit minilm-passages on a small machine.</summary>
public sealed record ExactDenseBenchmarkOptions
{
    public const int DefaultK = 10;
    public const int DefaultSingleQueryCount = 200;

    public int K { get; init; } = DefaultK;

    /// <summary>Threads of the all-threads run (0 = all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Queries timed one at a time in the single-query run (each is a full scan of the base).</summary>
    public int SingleQueryCount { get; init; } = DefaultSingleQueryCount;

    /// <summary>Queries in the batched runs (0 = all of them).</summary>
    public int BatchedQueryCount { get; init; }

    public long BandwidthBufferBytes { get; init; } = MemoryBandwidth.DefaultBytes;
    public int BandwidthRepetitions { get; init; } = MemoryBandwidth.DefaultRepetitions;

    public void Validate()
    {
        Guard.ValidK(K);
        if (Threads < 0) Guard.ThrowInvalid($"Threads must be >= 0 (0 = all cores), got {Threads}");
        if (SingleQueryCount < 0) Guard.ThrowInvalid($"SingleQueryCount must be >= 0, got {SingleQueryCount}");
        if (BatchedQueryCount < 0) Guard.ThrowInvalid($"BatchedQueryCount must be >= 0 (0 = all), got {BatchedQueryCount}");
        if (BandwidthRepetitions < 1) Guard.ThrowInvalid($"BandwidthRepetitions must be >= 1, got {BandwidthRepetitions}");
    }
}

/// <summary>
/// One timed run of exact search. Definitions (B = <see cref="BaseBytes"/>, the stored size of all base vectors
/// in their own element type, e.g. 160,000 x 384 x 2 bytes for float16; T = <see cref="WallSeconds"/>):
/// <list type="bullet">
/// <item><see cref="EffectiveBytesPerSecond"/> = Queries x B / T: base bytes "touched" (scored against) per
/// second. In batched mode each decoded base block serves a whole tile of queries from cache, so this can exceed
/// the memory bandwidth.</item>
/// <item><see cref="PhysicalBytesPerSecond"/> = Scans x B / T where Scans is the number of full passes over the
/// base that the run streams: one per query in single-query mode, one per query tile
/// (<see cref="ExactDenseIndex.QueryTileSize"/>) in batched mode. When the base is larger than the last-level
/// cache these are the bytes actually read from DRAM; when it fits, an upper bound.</item>
/// <item>Fractions divide by <see cref="BandwidthBytesPerSecond"/>, the measured sequential-read bandwidth of the
/// same thread count.</item>
/// </list>
/// Latency percentiles are per query and only exist in single-query mode (null in batched mode). There,
/// <see cref="BestScanFractionOfBandwidth"/> = (B / fastest query's latency) / bandwidth compares like with like:
/// the bandwidth figure is also the best of several passes, so on a machine shared with other work this is the
/// fairer reading of how close one scan comes to the memory limit.
/// <see cref="CpuSeconds"/> is the CPU time the whole process used during the timed region: on a machine shared
/// with other work, CpuSeconds well below Threads x WallSeconds means the run was waiting for a core, and the
/// wall-clock rates understate what the code does on a quiet machine.
/// </summary>
public sealed record ExactDenseRunResult(
    string Mode,
    int Threads,
    int Queries,
    int K,
    double WallSeconds,
    double CpuSeconds,
    double Qps,
    double? MeanUs,
    double? P50Us,
    double? P95Us,
    double? P99Us,
    double? MinUs,
    long BaseBytes,
    long Scans,
    double EffectiveBytesPerSecond,
    double PhysicalBytesPerSecond,
    double BandwidthBytesPerSecond,
    double EffectiveFractionOfBandwidth,
    double PhysicalFractionOfBandwidth,
    double? BestScanFractionOfBandwidth)
{
    public const string SingleQueryMode = "single-query";
    public const string BatchedMode = "batched";
}

/// <summary>Everything one benchmark run measured: the bandwidth bounds and the three exact-search runs.</summary>
public sealed record ExactDenseBenchmarkReport(
    string Metric,
    string ElementType,
    int Count,
    int Dimension,
    long BaseBytes,
    MemoryBandwidthResult SingleThreadBandwidth,
    MemoryBandwidthResult AllThreadsBandwidth,
    IReadOnlyList<ExactDenseRunResult> Runs);

/// <summary>
/// Exact dense search measured against this machine's memory bandwidth (measured in the same run):
/// (a) one thread, one query at a time (<see cref="ExactDenseIndex.SearchOne"/>: every query streams the whole
/// base, so this is the memory-bound case); (b) one thread, batched (<see cref="ExactDenseIndex.Search"/> with the
/// blocked kernel); (c) all threads, batched.
/// </summary>
public static class ExactDenseBenchmark
{
    public static ExactDenseBenchmarkReport Run(DenseVectors baseVectors, DenseVectors queries, Metric metric,
        ExactDenseBenchmarkOptions? options = null, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(baseVectors);
        ArgumentNullException.ThrowIfNull(queries);
        options ??= new ExactDenseBenchmarkOptions();
        options.Validate();
        int allThreads = options.Threads == 0 ? Environment.ProcessorCount : options.Threads;

        progress?.Report($"measuring memory bandwidth ({options.BandwidthBufferBytes >> 20} MiB buffer, 1 and {allThreads} threads)");
        var bandwidth = MemoryBandwidth.Measure([1, allThreads], options.BandwidthBufferBytes, options.BandwidthRepetitions);

        progress?.Report($"preparing exact index over {baseVectors.Count} x {baseVectors.Dimension} {baseVectors.ElementType.ToName()}");
        var index = new ExactDenseIndex(baseVectors, metric);
        int single = Math.Min(options.SingleQueryCount, queries.Count);
        int batched = options.BatchedQueryCount == 0 ? queries.Count : Math.Min(options.BatchedQueryCount, queries.Count);

        var runs = new List<ExactDenseRunResult>(3);
        if (single > 0)
        {
            progress?.Report($"single-query run: {single} queries on 1 thread");
            runs.Add(RunSingleQuery(index, queries, options.K, single, bandwidth[0]));
        }
        if (batched > 0)
        {
            var batch = batched == queries.Count ? queries : queries.Slice(0, batched);
            progress?.Report($"batched run: {batched} queries on 1 thread");
            runs.Add(RunBatched(index, batch, options.K, 1, bandwidth[0]));
            progress?.Report($"batched run: {batched} queries on {allThreads} threads");
            runs.Add(RunBatched(index, batch, options.K, allThreads, bandwidth[1]));
        }
        return new ExactDenseBenchmarkReport(metric.ToName(), baseVectors.ElementType.ToName(), index.Count, index.Dimension,
            index.BaseBytes, bandwidth[0], bandwidth[1], runs);
    }

    /// <summary>Mode (a): the first <paramref name="count"/> queries, one <see cref="ExactDenseIndex.SearchOne"/> each, timed one by one.</summary>
    public static ExactDenseRunResult RunSingleQuery(ExactDenseIndex index, DenseVectors queries, int k, int count, MemoryBandwidthResult bandwidth)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(queries);
        Guard.ValidK(k);
        Guard.SameDimension(index.Dimension, queries.Dimension, "the query set");
        if (count < 1 || count > queries.Count) Guard.ThrowInvalid($"count must be 1..{queries.Count}, got {count}");

        var decoded = queries.Slice(0, count).ToFloat32();
        var ids = new int[k];
        var scores = new float[k];
        // Warm-up (first-call allocations, caches, page faults); not timed.
        index.SearchOne(decoded.Float32Row(0), k, ids, scores);

        var latencies = new double[count];
        var clock = new Stopwatch();
        var cpuStarted = ProcessCpu();
        long started = Stopwatch.GetTimestamp();
        for (int q = 0; q < count; q++)
        {
            clock.Restart();
            index.SearchOne(decoded.Float32Row(q), k, ids, scores);
            latencies[q] = clock.Elapsed.TotalMicroseconds;
        }
        double wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
        double cpu = (ProcessCpu() - cpuStarted).TotalSeconds;
        return Result(ExactDenseRunResult.SingleQueryMode, 1, count, k, wall, cpu, latencies, index.BaseBytes, scans: count, bandwidth);
    }

    /// <summary>Modes (b) and (c): one <see cref="ExactDenseIndex.Search"/> call over all <paramref name="queries"/>.</summary>
    public static ExactDenseRunResult RunBatched(ExactDenseIndex index, DenseVectors queries, int k, int threads, MemoryBandwidthResult bandwidth)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(queries);
        if (queries.Count == 0) Guard.ThrowInvalid("the batched run needs at least one query");
        // Warm-up on one tile; not timed.
        index.Search(queries.Slice(0, Math.Min(queries.Count, ExactDenseIndex.QueryTileSize)), k, threads);
        var cpuStarted = ProcessCpu();
        long started = Stopwatch.GetTimestamp();
        index.Search(queries, k, threads);
        double wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
        double cpu = (ProcessCpu() - cpuStarted).TotalSeconds;
        long tiles = (queries.Count + ExactDenseIndex.QueryTileSize - 1) / ExactDenseIndex.QueryTileSize;
        int workers = threads == 0 ? Environment.ProcessorCount : threads;
        return Result(ExactDenseRunResult.BatchedMode, workers, queries.Count, k, wall, cpu, null, index.BaseBytes, tiles, bandwidth);
    }

    private static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static ExactDenseRunResult Result(string mode, int threads, int queries, int k, double wall, double cpu, double[]? latenciesUs,
        long baseBytes, long scans, MemoryBandwidthResult bandwidth)
    {
        double effective = (double)queries * baseBytes / wall;
        double physical = (double)scans * baseBytes / wall;
        double? mean = null, p50 = null, p95 = null, p99 = null, min = null, bestScan = null;
        if (latenciesUs is { Length: > 0 })
        {
            Array.Sort(latenciesUs);
            double sum = 0;
            foreach (double v in latenciesUs) sum += v;
            mean = sum / latenciesUs.Length;
            p50 = Percentile(latenciesUs, 0.50);
            p95 = Percentile(latenciesUs, 0.95);
            p99 = Percentile(latenciesUs, 0.99);
            min = latenciesUs[0];
            bestScan = baseBytes / (latenciesUs[0] * 1e-6) / bandwidth.BytesPerSecond;
        }
        return new ExactDenseRunResult(mode, threads, queries, k, wall, cpu, queries / wall, mean, p50, p95, p99, min, baseBytes, scans,
            effective, physical, bandwidth.BytesPerSecond, effective / bandwidth.BytesPerSecond, physical / bandwidth.BytesPerSecond, bestScan);
    }

    /// <summary>Nearest-rank percentile of sorted values (the smallest value with at least p of the data at or below it).</summary>
    internal static double Percentile(double[] sorted, double p)
    {
        int rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
