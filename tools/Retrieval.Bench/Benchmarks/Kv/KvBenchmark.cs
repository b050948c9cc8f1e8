using System.Diagnostics;
using System.Numerics.Tensors;
using Retrieval.Bench.Evaluation;
using Retrieval.Index.Attention;
using Retrieval.Index.Exact;
using Retrieval.Index.Vectors;
using Retrieval.Query.Attention;

namespace Retrieval.Bench.Benchmarks.Kv;

// Over 400 lines on purpose: every measured part (exact, IVF, HNSW, key graph, attention sweep, appends, batches)
// reads the same loaded heads, ground truth and report rows of one run; split apart they would pass all of it around.
/// <summary>
/// `retrieval bench kv`: per head of a kv dataset, side by side in one process — exact scan, IVF over keys, HNSW
/// over keys (USearch), the key-only graph ablation, and the attention-aware index swept over ef — reporting
/// tie-aware recall@k, keys scored, single-thread latency per head-query, build time, index bytes and the
/// relative error of the merged attention output (static S sink + W window part computed exactly); then recall
/// after decode appends against a full rebuild, and batched per-call latency over many heads.
/// </summary>
public static class KvBenchmark
{
    private delegate int SearchFunction(ReadOnlySpan<float> query, int k, Span<int> ids, Span<float> scores);

    public static KvBenchmarkReport Run(KvBenchmarkOptions options, Action<string>? progress = null)
    {
        options.Validate();
        progress ??= _ => { };
        var dataset = KvDataset.Open(options.Dataset);
        int threads = options.Threads == 0 ? Environment.ProcessorCount : options.Threads;
        var rows = new List<KvBenchmarkRow>();
        var appends = new List<KvAppendResult>();
        var batches = new List<KvBatchResult>();
        var stats = new List<GraphBuildStats>();
        var heads = new List<string>();
        int queryCount = 0;
        for (int h = 0; h < dataset.Heads.Count; h++)
        {
            var head = dataset.LoadHead(h);
            heads.Add(head.Name);
            progress($"head {head.Name}: {dataset.BaseRows} keys, d = {head.Dimension}");
            var run = new HeadRun(dataset, head, options, threads, progress);
            queryCount = run.Queries;
            run.Execute(rows, appends, batches, stats, firstHead: h == 0);
        }
        if (dataset.Heads.Count > 1) rows.AddRange(Averages(rows));
        return new KvBenchmarkReport(dataset.Name, heads, dataset.BaseRows, queryCount, threads, rows, appends, batches, stats);
    }

    private static IEnumerable<KvBenchmarkRow> Averages(List<KvBenchmarkRow> rows)
    {
        foreach (var group in rows.GroupBy(r => (r.Method, r.Settings, r.K)))
        {
            var g = group.ToList();
            yield return new KvBenchmarkRow("mean", group.Key.Method, group.Key.Settings, group.Key.K,
                g.Average(r => r.RecallAtK), g.Average(r => r.KeysScoredFraction), g.Average(r => r.MeanUs),
                g.Average(r => r.P99Us), g.Average(r => r.BuildSecondsPerHead), (long)g.Average(r => r.IndexBytes),
                g.Average(r => r.AttentionRelError), g.Average(r => r.BuildCpuSecondsPerHead), g.Average(r => r.AttentionMass),
                g.Average(r => r.CpuUs));
        }
    }

    /// <summary>Everything measured on one head.</summary>
    /// <summary>Wall and process CPU seconds of a build: on a shared machine the CPU time is the steadier number.</summary>
    private readonly record struct BuildCost(double WallSeconds, double CpuSeconds, long StartTicks, TimeSpan StartCpu)
    {
        public static BuildCost Start() => new(0, 0, Stopwatch.GetTimestamp(), Process.GetCurrentProcess().TotalProcessorTime);

        public BuildCost Stop() => new(Stopwatch.GetElapsedTime(StartTicks).TotalSeconds,
            (Process.GetCurrentProcess().TotalProcessorTime - StartCpu).TotalSeconds, 0, default);
    }

    private sealed class HeadRun
    {
        private readonly KvDataset _dataset;
        private readonly KvHeadData _head;
        private readonly KvBenchmarkOptions _options;
        private readonly int _threads;
        private readonly Action<string> _progress;
        private readonly int _n, _d;
        private readonly int[] _positions;
        private readonly KeyValueStore _store;
        private readonly Dictionary<int, double[]> _kth = new();
        private readonly float[][] _fullAttention;
        private readonly float[][] _staticOutput;
        private readonly float[] _staticLse;
        private readonly float[] _fullLse;
        private readonly float _scale;

        public HeadRun(KvDataset dataset, KvHeadData head, KvBenchmarkOptions options, int threads, Action<string> progress)
        {
            _dataset = dataset;
            _head = head;
            _options = options;
            _threads = threads;
            _progress = progress;
            _n = dataset.BaseRows;
            _d = head.Dimension;
            int q = options.QueryCount == 0 ? dataset.QueryPositions.Length : Math.Min(options.QueryCount, dataset.QueryPositions.Length);
            _positions = dataset.QueryPositions[..q];
            _store = new KeyValueStore(_d, head.Keys.AsSpan(0, _n * _d), head.Values.AsSpan(0, _n * _d), _n);
            _scale = dataset.ScoreScale;
            foreach (int k in options.Ks) _kth[k] = KthScores(k);
            int a = Math.Min(options.AttentionQueries, q);
            _fullAttention = new float[a][];
            _staticOutput = new float[a][];
            _staticLse = new float[a];
            _fullLse = new float[a];
            for (int i = 0; i < a; i++)
            {
                var query = head.Query(_positions[i]);
                _fullAttention[i] = new float[_d];
                _fullLse[i] = PartialAttention.OverRange(_store, query, 0, _n, _scale, _fullAttention[i]);
                var sink = new float[_d];
                var window = new float[_d];
                float lseSink = PartialAttention.OverRange(_store, query, 0, options.SinkTokens, _scale, sink);
                float lseWindow = PartialAttention.OverRange(_store, query, _n - options.WindowTokens, options.WindowTokens, _scale, window);
                _staticOutput[i] = new float[_d];
                _staticLse[i] = AttentionMerge.Merge(sink, lseSink, window, lseWindow, _staticOutput[i]);
            }
        }

        public int Queries => _positions.Length;

        private double ExactScore(ReadOnlySpan<float> query, int key)
        {
            double s = 0;
            var row = _head.Keys.AsSpan(key * _d, _d);
            for (int j = 0; j < _d; j++) s += (double)query[j] * row[j];
            return s;
        }

        /// <summary>The k-th exact score per decode query, from the shipped ground truth when it has k columns.</summary>
        private double[] KthScores(int k)
        {
            var kth = new double[_positions.Length];
            if (_head.GroundTruth is not null && _head.GroundTruthColumns >= k)
            {
                for (int i = 0; i < kth.Length; i++)
                    kth[i] = ExactScore(_head.Query(_positions[i]), _head.GroundTruth[i * _head.GroundTruthColumns + k - 1]);
                return kth;
            }
            var ids = new int[k];
            var scores = new float[k];
            var exact = ExactIndex(_n);
            for (int i = 0; i < kth.Length; i++)
            {
                exact.SearchOne(_head.Query(_positions[i]), k, ids, scores);
                kth[i] = ExactScore(_head.Query(_positions[i]), ids[k - 1]);
            }
            return kth;
        }

        /// <summary>The dense kernels' exact inner-product scan over keys [0, count): the floor every index is compared with.</summary>
        private ExactDenseIndex ExactIndex(int count) =>
            new(DenseVectors.FromFloat32(_head.Keys.AsSpan(0, count * _d).ToArray(), count, _d), Metric.InnerProduct);

        private int TieAwareHits(ReadOnlySpan<float> query, ReadOnlySpan<int> ids, double kth)
        {
            int hits = 0;
            double bound = kth - NeighborRecall.DefaultRelativeTolerance * Math.Abs(kth);
            for (int i = 0; i < ids.Length; i++)
            {
                int id = ids[i];
                if (id < 0 || ids[..i].Contains(id)) continue;
                if (ExactScore(query, id) >= bound) hits++;
            }
            return Math.Min(hits, ids.Length);
        }

        /// <summary>Relative L2 error of static part merged with attention over the given (non-static) retrieved keys.</summary>
        private (double Error, double Mass) AttentionError(int i, ReadOnlySpan<float> partial, float lsePartial)
        {
            Span<float> merged = stackalloc float[_d];
            float lse = AttentionMerge.Merge(_staticOutput[i], _staticLse[i], partial, lsePartial, merged);
            double err = 0, norm = 0;
            for (int j = 0; j < _d; j++)
            {
                double diff = merged[j] - _fullAttention[i][j];
                err += diff * diff;
                norm += (double)_fullAttention[i][j] * _fullAttention[i][j];
            }
            // Mass: the share of the full softmax that the static part plus the retrieved keys hold.
            return (Math.Sqrt(err / norm), Math.Exp(lse - _fullLse[i]));
        }

        /// <summary>Attention error from plain top-k results: static positions are dropped (the caller has them).</summary>
        private (double Error, double Mass) AttentionErrorFromResults(int i, ReadOnlySpan<int> ids)
        {
            var query = _head.Query(_positions[i]);
            Span<int> kept = stackalloc int[ids.Length];
            Span<float> raw = stackalloc float[ids.Length];
            int n = 0;
            foreach (int id in ids)
            {
                if (id < 0 || id < _options.SinkTokens || id >= _n - _options.WindowTokens) continue;
                kept[n] = id;
                raw[n++] = TensorPrimitives.Dot(query, _store.Key(id));
            }
            Span<float> partial = stackalloc float[_d];
            float lse = PartialAttention.OverRetrieved(_store, kept[..n], raw[..n], _scale, partial);
            return AttentionError(i, partial, lse);
        }

        private KvBenchmarkRow Measure(string method, string settings, int k, BuildCost build, long bytes,
            SearchFunction search, Func<int, (double Error, double Mass)>? attentionError = null)
        {
            int q = _positions.Length;
            var ids = new int[k];
            var scores = new float[k];
            var ticks = new long[q];
            var kth = _kth[k];
            double recall = 0, scored = 0, attention = 0, mass = 0;
            int attentionCount = 0;
            for (int i = 0; i < q; i++)
            {
                var query = _head.Query(_positions[i]);
                long start = Stopwatch.GetTimestamp();
                int s = search(query, k, ids, scores);
                ticks[i] = Stopwatch.GetTimestamp() - start;
                scored += s;
                recall += (double)TieAwareHits(query, ids, kth[i]) / k;
                if (k == _options.Ks[0] && i < _fullAttention.Length)
                {
                    var (error, share) = attentionError is null ? AttentionErrorFromResults(i, ids) : attentionError(i);
                    attention += error;
                    mass += share;
                    attentionCount++;
                }
            }
            var latency = LatencyStats.FromStopwatchTicks(ticks);
            // A second pass that runs only the searches, timed by the thread's own CPU clock: on a shared machine
            // wall-clock latency includes waiting for a core.
            double cpuStart = ThreadCpuClock.NowUs();
            for (int i = 0; i < q; i++) search(_head.Query(_positions[i]), k, ids, scores);
            double cpuUs = (ThreadCpuClock.NowUs() - cpuStart) / q;
            var row = new KvBenchmarkRow(_head.Name, method, settings, k, recall / q, scored < 0 ? double.NaN : scored / q / _n,
                latency.MeanUs, latency.P99Us, build.WallSeconds, bytes, attentionCount == 0 ? double.NaN : attention / attentionCount,
                build.CpuSeconds, attentionCount == 0 ? double.NaN : mass / attentionCount, cpuUs);
            _progress($"  {method,-10} {settings,-22} k={k,-3} recall={row.RecallAtK:F4} scored={row.KeysScoredFraction:P2} mean={row.MeanUs:F1}us p99={row.P99Us:F1}us cpu={row.CpuUs:F1}us");
            return row;
        }

        public void Execute(List<KvBenchmarkRow> rows, List<KvAppendResult> appends, List<KvBatchResult> batches,
            List<GraphBuildStats> stats, bool firstHead)
        {
            int maxK = _options.Ks.Max();
            if (_options.Runs("exact"))
            {
                var exact = ExactIndex(_n);
                foreach (int k in _options.Ks)
                    rows.Add(Measure("exact", "scan", k, default, 0, (q, kk, ids, scores) => { exact.SearchOne(q, kk, ids, scores); return _n; }));
            }
            if (_options.Runs("ivf"))
            {
                _progress($"  building IVF ({_options.IvfLists} k-means lists over keys)");
                var cost = BuildCost.Start();
                var ivf = new KeyIvfIndex(_head.Keys, _n, _d, _options.IvfLists, 10, 65_536, 7, _threads);
                var build = cost.Stop();
                var scratch = new Dictionary<int, KeyIvfIndex.Scratch>();
                foreach (int k in _options.Ks)
                {
                    var s = new KeyIvfIndex.Scratch(_options.IvfLists, k);
                    foreach (int probes in _options.IvfProbes)
                        rows.Add(Measure("ivf", $"lists={_options.IvfLists},nprobe={probes}", k, build, ivf.MemoryBytes,
                            (q, kk, ids, scores) => ivf.Search(q, kk, probes, ids, scores, s)));
                }
            }
            if (_options.Runs("hnsw"))
            {
                _progress($"  building HNSW (USearch, M={_options.HnswConnectivity}, ef_construction={_options.HnswExpansionAdd}, one thread)");
                var cost = BuildCost.Start();
                using var hnsw = new UsearchKeyIndex(_head.Keys, _n, _d, _options.HnswConnectivity, _options.HnswExpansionAdd);
                var build = cost.Stop();
                long bytes = hnsw.SerializedBytes();
                foreach (int k in _options.Ks)
                    foreach (int ef in _options.HnswBeamWidths)
                        rows.Add(Measure("hnsw", $"usearch,M={_options.HnswConnectivity},ef={ef}", k, build, bytes,
                            (q, kk, ids, scores) => { hnsw.Search(q, kk, ef, ids, scores); return -1; }));
            }
            var scratchGraph = new BeamSearchScratch();
            if (_options.Runs("keygraph") && _options.KeyOnlyGraph)
            {
                _progress("  building the key-only graph (same graph search, no query guidance)");
                var cost = BuildCost.Start();
                var keyOnly = AttentionHeadIndex.BuildFromKeysOnly(_store, _options.IndexOptions);
                var build = cost.Stop();
                foreach (int k in _options.Ks)
                    foreach (int ef in _options.KeyOnlyBeamWidths)
                    {
                        var p = new AttentionSearchParameters { SearchBeamWidth = ef };
                        rows.Add(Measure("keygraph", $"M={_options.IndexOptions.Connectivity},ef={ef}", k, build,
                            keyOnly.MemoryBytes, (q, kk, ids, scores) =>
                            {
                                keyOnly.SearchOne(q, k, p, ids, scores, scratchGraph);
                                return scratchGraph.LastKeysScored;
                            }));
                    }
            }

            if (!_options.Runs("attention")) return;
            _progress($"  building the attention-aware index from {_n} prefill queries (sample rate {_options.IndexOptions.TrainingSampleRate})");
            var cache = new KvCache(new KvCacheOptions { Threads = _threads });
            long sequence = cache.CreateSequence(new KvSequenceShape(1, 1, 1, _d));
            cache.SetKeyValues(sequence, 0, 0, _head.Keys.AsSpan(0, _n * _d), _head.Values.AsSpan(0, _n * _d), _n);
            var headRef = new KvHeadRef(0, 0);
            var attentionCost = BuildCost.Start();
            var buildStats = cache.BuildHead(sequence, headRef, _head.Queries.AsSpan(0, _n * _d), _n, _options.IndexOptions);
            var attentionBuild = attentionCost.Stop();
            stats.Add(buildStats);
            _progress($"  built in {attentionBuild.WallSeconds:F2}s wall, {attentionBuild.CpuSeconds:F2}s CPU: {buildStats}");
            var index = cache.HeadIndex(sequence, headRef);
            var attendIds = new int[maxK];
            var attendScores = new float[maxK];
            var attendOut = new float[_d];
            string settingsPrefix = $"M={_options.IndexOptions.Connectivity},ktrain={_options.IndexOptions.TrainingNeighbors},rate={_options.IndexOptions.TrainingSampleRate}";
            foreach (int k in _options.Ks)
                foreach (int ef in _options.SearchBeamWidths)
                {
                    var p = new AttentionSearchParameters { SearchBeamWidth = ef };
                    var attend = p with { SinkTokens = _options.SinkTokens, WindowTokens = _options.WindowTokens };
                    rows.Add(Measure("attention", $"{settingsPrefix},ef={ef}", k, attentionBuild, index.MemoryBytes,
                        (q, kk, ids, scores) =>
                        {
                            index.SearchOne(q, k, p, ids, scores, scratchGraph);
                            return scratchGraph.LastKeysScored;
                        },
                        i =>
                        {
                            // The real attend path: static positions excluded by the engine, partial attention + lse.
                            float lse = index.Attend(_head.Query(_positions[i]), k, attend, attendOut, attendIds.AsSpan(0, k), attendScores.AsSpan(0, k), scratchGraph);
                            return AttentionError(i, attendOut, lse);
                        }));
                }

            if (firstHead && _options.Runs("batch")) MeasureBatches(index, batches);
            if (_options.Runs("append") && _options.Appends > 0)
            {
                double rebuildSeconds = double.NaN;
                (double, double)? rebuilt = null;
                foreach (var mode in new[] { AppendMode.QueryGuided, AppendMode.Buffered })
                {
                    if (!_options.Runs(mode == AppendMode.QueryGuided ? "append-guided" : "append-buffered")) continue;
                    long target = sequence;
                    if (mode != _options.IndexOptions.AppendMode)
                    {
                        _progress($"  building a second copy for {mode} appends");
                        target = cache.CreateSequence(new KvSequenceShape(1, 1, 1, _d));
                        cache.SetKeyValues(target, 0, 0, _head.Keys.AsSpan(0, _n * _d), _head.Values.AsSpan(0, _n * _d), _n);
                        cache.BuildHead(target, headRef, _head.Queries.AsSpan(0, _n * _d), _n, _options.IndexOptions with { AppendMode = mode });
                    }
                    var result = MeasureAppends(cache, target, headRef, mode, ref rebuilt, ref rebuildSeconds);
                    appends.Add(result);
                    if (target != sequence) cache.Release(target);
                }
            }
            cache.Release(sequence);
        }

        private void MeasureBatches(AttentionHeadIndex index, List<KvBatchResult> batches)
        {
            int ef = _options.AppendBeamWidth;
            int k = _options.Ks[0];
            var p = new AttentionSearchParameters { SearchBeamWidth = ef };
            foreach (int heads in _options.BatchHeads)
            {
                // One real head's index stands in for every head of the layer; each head gets a different real
                // decode query, so the work per head-query is real, but the shared graph is cache-friendlier than
                // distinct per-head graphs would be.
                var indexes = Enumerable.Repeat(index, heads).ToArray();
                var queries = new float[heads * _d];
                var ids = new int[heads * k];
                var scores = new float[heads * k];
                var ticks = new long[_options.BatchCalls];
                for (int call = -5; call < _options.BatchCalls; call++)
                {
                    for (int h = 0; h < heads; h++)
                        _head.Query(_positions[(Math.Abs(call) * heads + h) % _positions.Length]).CopyTo(queries.AsSpan(h * _d));
                    long start = Stopwatch.GetTimestamp();
                    HeadBatch.Run(indexes, queries, k, p, ids, scores, default, default, default, _threads);
                    if (call >= 0) ticks[call] = Stopwatch.GetTimestamp() - start;
                }
                var latency = LatencyStats.FromStopwatchTicks(ticks);
                var result = new KvBatchResult(heads, _options.BatchCalls, ef, latency.MeanUs, latency.P99Us,
                    heads * 1e6 / latency.MeanUs, $"{heads} heads = the real head's index replicated, distinct real decode queries, {_threads} threads");
                _progress($"  batch of {heads} heads: mean {latency.MeanUs:F0}us p99 {latency.P99Us:F0}us per call");
                batches.Add(result);
            }
        }

        private KvAppendResult MeasureAppends(KvCache cache, long sequence, KvHeadRef headRef, AppendMode mode,
            ref (double Recall, double Scored)? rebuilt, ref double rebuildSeconds)
        {
            int appends = Math.Min(_options.Appends, _dataset.AppendEnd - _n);
            _progress($"  appending {appends} decode tokens one at a time ({mode})");
            var ticks = new long[appends];
            // The decoder's own query at each appended position guides insertion; the evaluation queries' positions
            // are skipped so that the recall below is not measured on queries the index has seen.
            var evaluated = new HashSet<int>(_dataset.QueryPositions);
            long observeTicks = 0;
            int observed = 0;
            ReadOnlySpan<KvHeadRef> observeHeads = [headRef];
            for (int step = 0; step < appends; step++)
            {
                int row = _n + step;
                if (mode == AppendMode.QueryGuided && !evaluated.Contains(row))
                {
                    long t0 = Stopwatch.GetTimestamp();
                    cache.ObserveQueries(sequence, observeHeads, _head.Query(row));
                    observeTicks += Stopwatch.GetTimestamp() - t0;
                    observed++;
                }
                long start = Stopwatch.GetTimestamp();
                cache.AppendStep(sequence, 0, _head.Keys.AsSpan(row * _d, _d), _head.Values.AsSpan(row * _d, _d));
                ticks[step] = Stopwatch.GetTimestamp() - start;
            }
            var appendLatency = LatencyStats.FromStopwatchTicks(ticks);
            int total = _n + appends;
            int k = _options.Ks[0];
            var p = new AttentionSearchParameters { SearchBeamWidth = _options.AppendBeamWidth };

            // Exact k-th scores over all keys now in the cache.
            var kth = new double[_positions.Length];
            var exact = ExactIndex(total);
            var ids = new int[k];
            var scores = new float[k];
            for (int i = 0; i < kth.Length; i++)
            {
                var q = _head.Query(_positions[i]);
                exact.SearchOne(q, k, ids, scores);
                kth[i] = ExactScore(q, ids[k - 1]);
            }
            var appended = cache.HeadIndex(sequence, headRef);
            var (recallAppended, scoredAppended) = Recall(appended, k, p, kth, total);
            _progress($"  graph after appends: {appended.GraphCount} keys in the graph, {appended.PendingCount} buffered, {appended.EntryPointCount} entry points");

            if (rebuilt is null)
            {
                _progress($"  rebuilding over all {total} keys for comparison");
                var store = new KeyValueStore(_d, _head.Keys.AsSpan(0, total * _d), _head.Values.AsSpan(0, total * _d), total);
                var clock = Stopwatch.StartNew();
                var full = AttentionHeadIndex.Build(store, _head.Queries.AsSpan(0, total * _d), total, _options.IndexOptions with { Threads = _threads });
                rebuildSeconds = clock.Elapsed.TotalSeconds;
                rebuilt = Recall(full, k, p, kth, total);
            }
            var (recallRebuilt, scoredRebuilt) = rebuilt.Value;
            _progress($"  after {appends} appends ({mode}): recall@{k} {recallAppended:F4} (scored {scoredAppended:P2}) vs rebuild {recallRebuilt:F4} (scored {scoredRebuilt:P2}); append mean {appendLatency.MeanUs:F1}us p99 {appendLatency.P99Us:F1}us");
            double observeMean = observed == 0 ? double.NaN : observeTicks * 1e6 / Stopwatch.Frequency / observed;
            return new KvAppendResult(_head.Name, mode == AppendMode.QueryGuided ? "query-guided" : "buffered", observeMean, appends, p.SearchBeamWidth, k, recallAppended, scoredAppended, recallRebuilt, scoredRebuilt,
                appendLatency.MeanUs, appendLatency.P99Us, ticks.Max() * 1e6 / Stopwatch.Frequency, rebuildSeconds);
        }

        private (double Recall, double Scored) Recall(AttentionHeadIndex index, int k, AttentionSearchParameters p, double[] kth, int total)
        {
            var scratch = new BeamSearchScratch();
            var ids = new int[k];
            var scores = new float[k];
            double recall = 0, scored = 0;
            for (int i = 0; i < kth.Length; i++)
            {
                var q = _head.Query(_positions[i]);
                index.SearchOne(q, k, p, ids, scores, scratch);
                recall += (double)TieAwareHits(q, ids, kth[i]) / k;
                scored += scratch.LastKeysScored;
            }
            return (recall / kth.Length, scored / kth.Length / total);
        }
    }
}
