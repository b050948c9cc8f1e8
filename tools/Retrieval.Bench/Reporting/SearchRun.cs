using System.Diagnostics;
using Retrieval.Bench.Evaluation;
using Retrieval.Bench.Inputs;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Reporting;

/// <summary>
/// Measures one index at one setting over a query set and returns its <see cref="SearchReport"/>, the same way
/// for every index kind: with one thread each query is searched alone and timed (latency = what one user
/// waits), with more threads the batch API runs across cores and only throughput is measured (queries
/// overlap, so per-query latency would mislead). A short unmeasured warm-up runs first so JIT tiering and page
/// faults are not billed to the first queries.
/// </summary>
public sealed class SearchRun
{
    /// <summary>Queries searched before timing starts, at least.</summary>
    public const int WarmupQueries = 16;

    /// <summary>Warm-up lasts at least this long (tier-up to optimised code happens in the background after ~0.1 s of calls).</summary>
    public static readonly TimeSpan WarmupTime = TimeSpan.FromMilliseconds(300);

    /// <summary>A tiny query set is not cycled through more often than this during warm-up.</summary>
    private const int MaxWarmupPasses = 20;

    private readonly int _k;
    private readonly int _threads;
    private readonly GroundTruth? _truth;
    private readonly ProgressReporter _progress;

    /// <param name="k">Neighbours per query (>= 1).</param>
    /// <param name="threads">1 = single-query latency; 0 = all cores; n = that many threads, batched.</param>
    /// <param name="truth">Exact neighbours for recall_at_k; null leaves recall null.</param>
    public SearchRun(int k, int threads, GroundTruth? truth, ProgressReporter? progress = null)
    {
        Guard.ValidK(k);
        if (threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {threads}");
        _k = k;
        _threads = threads;
        _truth = truth;
        _progress = progress ?? ProgressReporter.Silent;
    }

    public int Threads => _threads == 0 ? Environment.ProcessorCount : _threads;

    /// <param name="residentBeforeOpen">
    /// The process's resident set just before <paramref name="index"/> was opened (<see cref="ProcessMemory.ResidentBeforeOpen"/>);
    /// fills index_resident_bytes. Null leaves that field null.
    /// </param>
    public SearchReport Measure(ISearchIndex index, QuerySet queries, SearchParameters parameters, long? residentBeforeOpen = null)
    {
        CheckCompatible(index, queries);
        _truth?.CheckCovers(queries.Count, _k);
        Warmup(index, queries, parameters);
        var reads = index as IReportsReads;
        long bytesBefore = reads?.BytesRead ?? 0, readsBefore = reads?.ReadCount ?? 0;

        SearchResults results;
        LatencyStats? latency = null;
        double qps;
        if (Threads == 1)
        {
            (results, latency, qps) = MeasureOneAtATime(index, queries, parameters);
        }
        else
        {
            (results, qps) = MeasureBatched(index, queries, parameters);
        }

        double? bytesPerQuery = null, readsPerQuery = null;
        if (reads is not null && queries.Count > 0)
        {
            bytesPerQuery = (double)(reads.BytesRead - bytesBefore) / queries.Count;
            readsPerQuery = (double)(reads.ReadCount - readsBefore) / queries.Count;
        }

        long resident = ProcessMemory.ResidentBytes();
        return new SearchReport
        {
            Index = index.Kind,
            Queries = queries.Count,
            K = _k,
            RecallAtK = Recall(index, results, queries.Count),
            MeanUs = latency?.MeanUs,
            P50Us = latency?.P50Us,
            P95Us = latency?.P95Us,
            P99Us = latency?.P99Us,
            Qps = queries.Count > 0 ? qps : null,
            Threads = Threads,
            ResidentBytes = resident,
            IndexResidentBytes = resident - residentBeforeOpen,
            IndexBytesOnDisk = index.BytesOnDisk,
            BytesReadPerQuery = bytesPerQuery,
            ReadsPerQuery = readsPerQuery,
            Settings = parameters.Describe(),
        };
    }

    private void Warmup(ISearchIndex index, QuerySet queries, SearchParameters parameters)
    {
        if (queries.Count == 0) return;
        // At least WarmupQueries queries and WarmupTime, cycling over the set: the runtime compiles hot methods
        // again with full optimisation after they have run for a while, and that must happen before timing.
        long start = Stopwatch.GetTimestamp();
        if (Threads == 1)
        {
            var ids = new int[_k];
            var scores = new float[_k];
            for (int done = 0; done < WarmupQueries || Stopwatch.GetElapsedTime(start) < WarmupTime; done++)
            {
                index.SearchOne(queries, done % queries.Count, _k, parameters, ids, scores);
                if (done >= MaxWarmupPasses * queries.Count) break;
            }
        }
        else
        {
            var batch = queries.Take(WarmupQueries);
            for (int pass = 0; pass == 0 || Stopwatch.GetElapsedTime(start) < WarmupTime; pass++)
            {
                index.SearchBatch(batch, _k, parameters, _threads);
                if (pass >= MaxWarmupPasses * Math.Max(1, queries.Count / batch.Count)) break;
            }
        }
    }

    private (SearchResults, LatencyStats?, double) MeasureOneAtATime(ISearchIndex index, QuerySet queries, SearchParameters parameters)
    {
        int n = queries.Count;
        var results = new SearchResults(n, _k);
        var ticks = new long[n];

        _progress.Begin($"{index.Kind} search, 1 thread, one query at a time", n, "queries");
        long start = Stopwatch.GetTimestamp();
        for (int q = 0; q < n; q++)
        {
            var ids = results.IdsOf(q);
            var scores = results.ScoresOf(q);
            long before = Stopwatch.GetTimestamp();
            index.SearchOne(queries, q, _k, parameters, ids, scores);
            ticks[q] = Stopwatch.GetTimestamp() - before;
            _progress.Advance();
        }
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        _progress.End();
        if (n == 0) return (results, null, 0);
        return (results, LatencyStats.FromStopwatchTicks(ticks), LatencyStats.QueriesPerSecond(n, Math.Max(seconds, 1e-9)));
    }

    private (SearchResults, double) MeasureBatched(ISearchIndex index, QuerySet queries, SearchParameters parameters)
    {
        int n = queries.Count;
        _progress.Begin($"{index.Kind} search, {Threads} threads, batched", n, "queries");
        long start = Stopwatch.GetTimestamp();
        var results = index.SearchBatch(queries, _k, parameters, _threads);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        _progress.Report(n);
        _progress.End();
        if (results.QueryCount != n || results.K != _k)
            throw new RetrievalException(ErrorKind.Internal,
                $"{index.Kind} returned {results.QueryCount} x {results.K} results for {n} queries at k = {_k}");
        return (results, n == 0 ? 0 : LatencyStats.QueriesPerSecond(n, Math.Max(seconds, 1e-9)));
    }

    private double? Recall(ISearchIndex index, SearchResults results, int queries)
    {
        if (_truth is null || queries == 0) return null;
        var ids = _truth.IdsOfFirst(queries);
        var truthMetric = _truth.Metric ?? index.Metric;
        NeighborRecallResult recall;
        if (_truth.ExactScorer is { } scorer)
            recall = NeighborRecall.TieAwareRecallAtK(results, ids, _truth.Columns, _k, truthMetric, scorer);
        else if (_truth.Scores is not null && index.ScoresAreExact && index.Metric == truthMetric)
            recall = NeighborRecall.TieAwareRecallAtK(results, ids, _truth.ScoresOfFirst(queries), _truth.Columns, _k, truthMetric);
        else
            recall = NeighborRecall.RecallAtK(results, ids, _truth.Columns, _k);
        return recall.Mean;
    }

    private static void CheckCompatible(ISearchIndex index, QuerySet queries)
    {
        if (index.IsSparse != queries.IsSparse)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"the {index.Kind} index holds {(index.IsSparse ? "sparse" : "dense")} vectors but the queries are {(queries.IsSparse ? "sparse" : "dense")}");
        if (!index.IsSparse) Guard.SameDimension(index.Dimension, queries.Dimension, "the queries");
    }
}
