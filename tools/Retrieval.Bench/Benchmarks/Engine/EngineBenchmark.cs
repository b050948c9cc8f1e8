using System.Diagnostics;
using Retrieval.Bench.Datasets;
using Retrieval.Bench.Evaluation;
using Retrieval.Bench.Inputs;
using Retrieval.Bench.Reporting;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Benchmarks.Engine;

/// <summary>
/// `bench engine`: the whole engine with its defaults, embedded or through a server. Ingests a dense dataset in
/// batches (integer keys = row ids), waits until the collection reports no background jobs, searches the queries one
/// at a time (and from N concurrent clients), then runs update rounds: each deletes a random fraction of the live rows
/// and re-inserts as many deleted base vectors under new keys, settles, and searches again. Recall is always measured
/// against exact ground truth computed over the rows the collection holds at that moment (keys mapped to base rows),
/// tie-aware. One line per phase goes to <c>emit</c> (a `defaults` line first).
/// </summary>
public static class EngineBenchmark
{
    public static async Task RunAsync(EngineBenchmarkOptions options, Action<string, IReadOnlyList<IReport>> emit, ProgressReporter progress)
    {
        Validate(options);
        var manifest = DatasetLocator.Open(options.Dataset);
        if (manifest.Kind != DatasetKind.Dense || manifest.Base is null || manifest.Queries is null)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"dataset '{manifest.Name}' ({manifest.ManifestPath}) is not a dense set with base vectors and queries; bench engine needs one");
        var metric = manifest.Metric ?? Metric.L2;
        progress.Log($"reading base vectors of {manifest.Name}: {manifest.Base.Path}");
        var baseVectors = DenseVectorFile.Read(manifest.Base.Path);
        int rows = Math.Min(baseVectors.Count, options.MaxRows ?? int.MaxValue);
        var queries = VectorFiles.ReadQueries(manifest.Queries.Path, manifest.Queries.Format, options.MaxQueries);
        if (queries.IsSparse) throw new RetrievalException(ErrorKind.Incompatible, $"dataset '{manifest.Name}' has sparse queries");
        Guard.SameDimension(baseVectors.Dimension, queries.Dimension, "the queries");
        int dim = baseVectors.Dimension;
        var vectors = new float[rows][];
        for (int r = 0; r < rows; r++)
        {
            vectors[r] = new float[dim];
            baseVectors.CopyRowTo(r, vectors[r]);
        }
        var queryVectors = new float[queries.Count][];
        for (int q = 0; q < queries.Count; q++) queryVectors[q] = queries.Dense!.Float32Row(q).ToArray();

        await using var target = await OpenTargetAsync(options, progress);
        await target.CreateAsync(options.Collection, dim, metric);
        emit("defaults:", [new ReportLine([new("phase", "defaults"), new("dataset", manifest.Name), new("metric", metric.ToString().ToLowerInvariant()),
            new("dimension", dim), .. target.Defaults()])]);

        // Live contents: key -> base row, and the keys in a list for random deletes.
        var rowOfKey = new Dictionary<long, int>(rows);
        var liveKeys = new List<long>(rows);
        using var sampler = new RssSampler(target);

        progress.Log($"ingesting {rows} rows in batches of {options.Batch}");
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < rows; start += options.Batch)
        {
            int n = Math.Min(options.Batch, rows - start);
            var keys = new long[n];
            var batch = new float[n][];
            for (int i = 0; i < n; i++)
            {
                keys[i] = start + i;
                batch[i] = vectors[start + i];
                rowOfKey[start + i] = start + i;
                liveKeys.Add(start + i);
            }
            await target.UpsertAsync(keys, batch);
            if (start / options.Batch % 20 == 19) progress.Log($"ingested {start + n} / {rows}");
        }
        double ingestSeconds = clock.Elapsed.TotalSeconds;
        var settle = await SettleAsync(target, options, progress);
        emit("ingest:", [Line(options, "ingest", null, liveKeys.Count, sampler.TakeMax(), target.DiskBytes(),
            ingestPerSecond: rows / Math.Max(1e-9, ingestSeconds), settle: settle)]);

        var truth = ExactTruth(vectors, liveKeys, rowOfKey, queries, metric, options.K, progress);
        var search = await SearchAsync(target, queryVectors, truth, options.K, clients: 1);
        emit("search:", [Line(options, "search", null, liveKeys.Count, sampler.TakeMax(), target.DiskBytes(), search: search)]);
        if (options.Clients > 1)
        {
            var concurrent = await SearchAsync(target, queryVectors, truth, options.K, options.Clients);
            emit($"search ({options.Clients} clients):",
                [Line(options, "search", null, liveKeys.Count, sampler.TakeMax(), target.DiskBytes(), search: concurrent, clients: options.Clients)]);
        }

        var random = new Random(options.Seed);
        long nextKey = rows;
        for (int round = 1; round <= options.Updates; round++)
        {
            int changes = Math.Max(1, (int)Math.Round(options.UpdateFraction * liveKeys.Count));
            // Partial Fisher-Yates: the last `changes` keys of the list are a uniform random sample.
            for (int i = 0; i < changes; i++)
            {
                int j = random.Next(liveKeys.Count - i);
                (liveKeys[j], liveKeys[liveKeys.Count - 1 - i]) = (liveKeys[liveKeys.Count - 1 - i], liveKeys[j]);
            }
            var deleted = liveKeys.GetRange(liveKeys.Count - changes, changes);
            liveKeys.RemoveRange(liveKeys.Count - changes, changes);
            progress.Log($"update round {round}: deleting {changes} rows and re-inserting their vectors under new keys");
            clock.Restart();
            for (int start = 0; start < deleted.Count; start += options.Batch)
                await target.DeleteAsync(deleted.GetRange(start, Math.Min(options.Batch, deleted.Count - start)));
            for (int start = 0; start < deleted.Count; start += options.Batch)
            {
                int n = Math.Min(options.Batch, deleted.Count - start);
                var keys = new long[n];
                var batch = new float[n][];
                for (int i = 0; i < n; i++)
                {
                    int row = rowOfKey[deleted[start + i]];
                    keys[i] = nextKey++;
                    batch[i] = vectors[row];
                    rowOfKey[keys[i]] = row;
                    liveKeys.Add(keys[i]);
                }
                await target.UpsertAsync(keys, batch);
            }
            double updateSeconds = clock.Elapsed.TotalSeconds;
            foreach (long key in deleted) rowOfKey.Remove(key);
            settle = await SettleAsync(target, options, progress);
            truth = ExactTruth(vectors, liveKeys, rowOfKey, queries, metric, options.K, progress);
            search = await SearchAsync(target, queryVectors, truth, options.K, clients: 1);
            emit($"update round {round}:", [Line(options, "update_round", round, liveKeys.Count, sampler.TakeMax(), target.DiskBytes(),
                updatesPerSecond: 2.0 * changes / Math.Max(1e-9, updateSeconds), settle: settle, search: search)]);
        }
    }

    private static void Validate(EngineBenchmarkOptions o)
    {
        Guard.ValidK(o.K);
        if (o.K > RetrievalEngine.MaxK) Guard.ThrowInvalid($"k must be at most {RetrievalEngine.MaxK}, got {o.K}");
        if (o.Batch < 1) Guard.ThrowInvalid($"batch must be >= 1, got {o.Batch}");
        if (o.Clients < 1) Guard.ThrowInvalid($"clients must be >= 1, got {o.Clients}");
        if (o.Updates < 0) Guard.ThrowInvalid($"updates must be >= 0, got {o.Updates}");
        if (!(o.UpdateFraction > 0 && o.UpdateFraction < 1)) Guard.ThrowInvalid($"update fraction must be in (0, 1), got {o.UpdateFraction}");
        if (o.MaxRows is < 1) Guard.ThrowInvalid($"max rows must be >= 1, got {o.MaxRows}");
        if (o.MaxQueries is < 1) Guard.ThrowInvalid($"max queries must be >= 1, got {o.MaxQueries}");
        if (o.Server is not null && o.DataDirectory is not null) Guard.ThrowInvalid("give either a server or an embedded data directory, not both");
    }

    private static async Task<IEngineTarget> OpenTargetAsync(EngineBenchmarkOptions options, ProgressReporter progress)
    {
        if (options.Server is { } url)
        {
            progress.Log($"connecting to {url}");
            return await ServerTarget.ConnectAsync(url, options.ApiKey, options.ServerProcessId, options.ServerDataDirectory);
        }
        bool temporary = options.DataDirectory is null;
        string dir = options.DataDirectory ?? Path.Combine(Path.GetTempPath(), "retrieval-bench-engine-" + Guid.NewGuid().ToString("N")[..12]);
        progress.Log($"opening an embedded engine in {dir}");
        return new EmbeddedTarget(RetrievalEngine.Open(dir, options.Engine), dir, temporary);
    }

    /// <summary>Polls background_jobs until it is 0; returns the seconds waited and the settled segment counts.</summary>
    private static async Task<(double Seconds, int Segments, int Indexed)> SettleAsync(IEngineTarget target, EngineBenchmarkOptions options, ProgressReporter progress)
    {
        var clock = Stopwatch.StartNew();
        var lastLog = TimeSpan.Zero;
        while (true)
        {
            var (jobs, segments, indexed) = await target.StateAsync();
            if (jobs == 0) return (clock.Elapsed.TotalSeconds, segments, indexed);
            if (clock.Elapsed > options.SettleTimeout)
                throw new RetrievalException(ErrorKind.Internal, $"collection '{options.Collection}' still has {jobs} background jobs after {options.SettleTimeout.TotalSeconds:0} s");
            if (clock.Elapsed - lastLog > TimeSpan.FromSeconds(10))
            {
                lastLog = clock.Elapsed;
                progress.Log($"waiting for {jobs} background jobs");
            }
            await Task.Delay(20);
        }
    }

    /// <summary>Exact top-k over the live rows, as keys, with each query's k-th exact score and a scorer for tie-aware recall.</summary>
    internal sealed record Truth(long[][] Keys, float[] KthScores, Func<int, long, float> Score, bool HigherIsBetter, Dictionary<long, int> PositionOfKey);

    internal static Truth ExactTruth(float[][] vectors, List<long> liveKeys, Dictionary<long, int> rowOfKey, QuerySet queries, Metric metric, int k,
        ProgressReporter progress)
    {
        int dim = vectors[0].Length;
        var flat = new float[(long)liveKeys.Count * dim];
        for (int i = 0; i < liveKeys.Count; i++) vectors[rowOfKey[liveKeys[i]]].CopyTo(flat.AsSpan(i * dim, dim));
        var live = DenseVectors.FromFloat32(flat, liveKeys.Count, dim);
        progress.Log($"exact ground truth over {liveKeys.Count} live rows");
        var results = new ExactDenseIndex(live, metric).Search(queries.Dense!, k);
        var scorer = ExactScorers.ForDense(live, queries, metric);
        var position = new Dictionary<long, int>(liveKeys.Count);
        for (int i = 0; i < liveKeys.Count; i++) position[liveKeys[i]] = i;
        var keys = new long[queries.Count][];
        var kth = new float[queries.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            var ids = results.IdsOf(q);
            int n = 0;
            while (n < ids.Length && ids[n] >= 0) n++;
            keys[q] = new long[n];
            for (int i = 0; i < n; i++) keys[q][i] = liveKeys[ids[i]];
            kth[q] = n == 0 ? float.NaN : scorer(q, ids[n - 1]);
        }
        var snapshot = new Dictionary<long, int>(position);
        return new Truth(keys, kth, (q, key) => snapshot.TryGetValue(key, out int p) ? scorer(q, p) : float.NaN, metric.HigherIsBetter(), snapshot);
    }

    internal sealed record SearchMeasure(double Recall, LatencyStats Latency, double Qps);

    /// <summary>Searches every query once from <paramref name="clients"/> tasks (query i goes to task i mod clients), after a short warm-up.</summary>
    private static async Task<SearchMeasure> SearchAsync(IEngineTarget target, float[][] queries, Truth truth, int k, int clients)
    {
        var warm = new long[k];
        for (int q = 0; q < Math.Min(10, queries.Length); q++) await target.SearchAsync(queries[q], k, warm);
        var ticks = new long[queries.Length];
        var recall = new double[queries.Length];
        var wall = Stopwatch.StartNew();
        var tasks = new Task[clients];
        for (int c = 0; c < clients; c++)
        {
            int client = c;
            tasks[c] = Task.Run(async () =>
            {
                var keys = new long[k];
                var ids = new int[k];
                var scores = new float[k];
                for (int q = client; q < queries.Length; q += clients)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    int n = await target.SearchAsync(queries[q], k, keys);
                    ticks[q] = Stopwatch.GetTimestamp() - t0;
                    recall[q] = Recall(truth, q, keys.AsSpan(0, n), ids, scores);
                }
            });
        }
        await Task.WhenAll(tasks);
        double seconds = wall.Elapsed.TotalSeconds;
        return new SearchMeasure(recall.Length == 0 ? double.NaN : recall.Average(), LatencyStats.FromStopwatchTicks(ticks),
            LatencyStats.QueriesPerSecond(queries.Length, seconds));
    }

    internal static double Recall(Truth truth, int q, ReadOnlySpan<long> returned, int[] ids, float[] scores)
    {
        var expected = truth.Keys[q];
        if (expected.Length == 0) return double.NaN;
        // Positions in the live set stand in for ids; a key that is not live (never expected) gets -1 and never counts.
        Span<int> gt = expected.Length <= 256 ? stackalloc int[expected.Length] : new int[expected.Length];
        for (int i = 0; i < expected.Length; i++) gt[i] = truth.PositionOfKey[expected[i]];
        for (int i = 0; i < returned.Length; i++)
        {
            ids[i] = truth.PositionOfKey.TryGetValue(returned[i], out int p) ? p : -1;
            scores[i] = ids[i] < 0 ? float.NaN : truth.Score(q, returned[i]);
        }
        int hits = NeighborRecall.CountTieAwareHits(ids.AsSpan(0, returned.Length), scores.AsSpan(0, returned.Length), gt, truth.KthScores[q],
            truth.HigherIsBetter);
        return (double)hits / expected.Length;
    }

    private static ReportLine Line(EngineBenchmarkOptions o, string phase, int? round, int vectors, long? rss, long? disk,
        double? ingestPerSecond = null, double? updatesPerSecond = null, (double Seconds, int Segments, int Indexed)? settle = null,
        SearchMeasure? search = null, int clients = 1) =>
        new(
        [
            new("phase", phase),
            new("round", round),
            new("k", o.K),
            new("clients", clients),
            new("vectors", vectors),
            new("ingest_per_s", ingestPerSecond),
            new("updates_per_s", updatesPerSecond),
            new("settle_s", settle?.Seconds),
            new("segments", settle?.Segments),
            new("indexed_segments", settle?.Indexed),
            new("recall_at_k", search?.Recall),
            new("mean_us", search?.Latency.MeanUs),
            new("p50_us", search?.Latency.P50Us),
            new("p99_us", search?.Latency.P99Us),
            new("qps", search?.Qps),
            new("server_rss_bytes", rss),
            new("disk_bytes", disk),
        ]);

    /// <summary>Total size of the files under <paramref name="directory"/> (files vanishing meanwhile are skipped).</summary>
    public static long? DirectoryBytes(string directory)
    {
        if (!Directory.Exists(directory)) return null;
        long total = 0;
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            try { total += new FileInfo(file).Length; }
            catch (IOException) { }
        }
        return total;
    }

    /// <summary>Samples the target's resident memory every 50 ms; <see cref="TakeMax"/> returns the phase's maximum and starts the next phase.</summary>
    private sealed class RssSampler : IDisposable
    {
        private readonly IEngineTarget _target;
        private readonly Timer _timer;
        private long _max = -1;

        public RssSampler(IEngineTarget target)
        {
            _target = target;
            Sample();
            _timer = new Timer(_ => Sample(), null, 50, 50);
        }

        private void Sample()
        {
            if (_target.ResidentBytes() is not { } bytes) return;
            long seen;
            while ((seen = Interlocked.Read(ref _max)) < bytes && Interlocked.CompareExchange(ref _max, bytes, seen) != seen) { }
        }

        public long? TakeMax()
        {
            Sample();
            long max = Interlocked.Exchange(ref _max, -1);
            Sample();
            return max < 0 ? null : max;
        }

        public void Dispose() => _timer.Dispose();
    }
}
