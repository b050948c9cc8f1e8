using System.Diagnostics;
using System.Numerics.Tensors;
using Retrieval.Bench.Evaluation;
using Retrieval.Index.Attention;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Service.Client;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Bench.Benchmarks.Kv;

/// <summary>What a KV replay sends: one head of a kv dataset (kv-minilm layout) played through a server's KvCache.</summary>
public sealed record KvReplayOptions
{
    public required Uri Server { get; init; }
    public string? ApiKey { get; init; }
    /// <summary>A dataset name under ../shared/datasets (or $RETRIEVAL_DATASETS), or a folder laid out like kv-minilm.</summary>
    public string Dataset { get; init; } = "kv-minilm";
    public int HeadIndex { get; init; }
    /// <summary>Keys/values prefilled: positions [0, BaseRows); null = the dataset's cache rows.</summary>
    public int? BaseRows { get; init; }
    /// <summary>Decode queries used (the dataset's first ones); null = all.</summary>
    public int? Queries { get; init; }
    public int K { get; init; } = 100;
    /// <summary>Beam width; 0 = the server's default.</summary>
    public int Ef { get; init; }
    /// <summary>
    /// GQA group size G: query heads sharing the one KV head, each built from the head's prefill queries; every
    /// search call carries G distinct decode queries (one per query head), so a call is G head-queries.
    /// </summary>
    public int QueryHeads { get; init; } = 1;
    public int SinkTokens { get; init; } = 4;
    public int WindowTokens { get; init; } = 256;
    /// <summary>Decode rows appended one step per call after the first pass, then searched again; 0 = none.</summary>
    public int Appends { get; init; }
    public V1.KvAppendMode AppendMode { get; init; } = V1.KvAppendMode.Buffered;
    /// <summary>Also run the attend pass and measure the merged attention output against full attention.</summary>
    public bool Attend { get; init; }
    /// <summary>Rows per PrefillKv message (keeps messages under the server's size limit).</summary>
    public int ChunkRows { get; init; } = 16_384;
    /// <summary>Training-query sample rate; 0 = the server's default.</summary>
    public double TrainingSampleRate { get; init; }

    public void Validate()
    {
        if (K < 1) Guard.ThrowInvalid($"k must be >= 1, got {K}");
        if (Ef < 0) Guard.ThrowInvalid($"ef must be >= 0 (0 = server default), got {Ef}");
        if (QueryHeads < 1 || QueryHeads > 256) Guard.ThrowInvalid($"query heads must be in [1, 256], got {QueryHeads}");
        if (SinkTokens < 0 || WindowTokens < 0) Guard.ThrowInvalid($"sink and window tokens must be >= 0, got {SinkTokens} and {WindowTokens}");
        if (Appends < 0) Guard.ThrowInvalid($"appends must be >= 0, got {Appends}");
        if (ChunkRows < 1) Guard.ThrowInvalid($"chunk rows must be >= 1, got {ChunkRows}");
        if (BaseRows is < 1) Guard.ThrowInvalid($"base rows must be >= 1, got {BaseRows}");
        if (Queries is < 1) Guard.ThrowInvalid($"queries must be >= 1, got {Queries}");
        if (!(TrainingSampleRate >= 0 && TrainingSampleRate <= 1)) Guard.ThrowInvalid($"training sample rate must be in [0, 1], got {TrainingSampleRate}");
    }
}

/// <summary>One pass of decode queries through Search (or Attend): latency per call as the client saw it.</summary>
public sealed record KvReplayPass(string Name, int Keys, int Calls, int HeadQueriesPerCall, double RecallAtK, double KeysScoredFraction,
    int StaticHits, LatencyStats CallLatency, double HeadQueriesPerSecond)
{
    /// <summary>Attend passes: mean relative L2 error of (static part merged with the server's part) vs full attention; NaN otherwise.</summary>
    public double AttentionRelativeError { get; init; } = double.NaN;
    /// <summary>Attend passes: the same error when the server's part is replaced by the exact top-k (the floor for any top-k method).</summary>
    public double ExactTopKAttentionRelativeError { get; init; } = double.NaN;
}

public sealed record KvReplayResult(string Dataset, string Head, int Dimension, int BaseRows, int K, int Ef, int QueryHeads,
    double PrefillSeconds, long PrefillBytesSent, double BuildSeconds, double ServerBuildSeconds, long SequenceMemoryBytes,
    IReadOnlyList<KvReplayPass> Passes, LatencyStats? AppendLatency, long FreedBytes);

/// <summary>
/// Plays one head of a real KV dataset through a running server's retrieval.v1.KvCache, end to end: create a
/// sequence, prefill keys/values in float16 chunks, build query heads from the prefill queries, search the decode
/// queries (recall@k against an exact scan done here, tie-aware), optionally attend (merged with a static part
/// computed here, compared with full attention), append decode rows and search again, release.
/// </summary>
public static class KvReplay
{
    public static async Task<KvReplayResult> RunAsync(KvReplayOptions options, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        options.Validate();
        var dataset = KvDataset.Open(options.Dataset);
        if (options.HeadIndex < 0 || options.HeadIndex >= dataset.Heads.Count)
            Guard.ThrowInvalid($"head index {options.HeadIndex} is out of range: {dataset.Name} has {dataset.Heads.Count} head(s)");
        int baseRows = options.BaseRows ?? dataset.BaseRows;
        if (baseRows > dataset.BaseRows)
            Guard.ThrowInvalid($"base rows {baseRows} exceed the dataset's cache rows ({dataset.BaseRows})");
        int appendEnd = baseRows + options.Appends;
        if (options.Appends > 0 && appendEnd > dataset.AppendEnd)
            Guard.ThrowInvalid($"{options.Appends} appends after {baseRows} rows run past the dataset's last row ({dataset.AppendEnd})");
        var head = dataset.LoadHead(options.HeadIndex);
        int d = head.Dimension, g = options.QueryHeads;
        int queryCount = Math.Min(options.Queries ?? dataset.QueryPositions.Length, dataset.QueryPositions.Length);
        int calls = queryCount / g;
        if (calls == 0) Guard.ThrowInvalid($"{queryCount} decode queries cannot fill one call of {g} query heads");
        if (options.K > baseRows - options.SinkTokens - options.WindowTokens)
            Guard.ThrowInvalid($"k {options.K} exceeds the {baseRows - options.SinkTokens - options.WindowTokens} keys outside the static part");

        using var client = new RetrievalClient(options.Server.ToString(), options.ApiKey);
        var kv = client.KvCache;
        var headers = client.Headers;
        var info = await kv.CreateSequenceAsync(new V1.CreateSequenceRequest
        {
            Shape = new V1.SequenceShape
            {
                Layers = 1,
                KvHeads = 1,
                QueryHeadsPerKvHead = (uint)g,
                HeadDim = (uint)d,
                SinkTokens = (uint)options.SinkTokens,
                WindowTokens = (uint)options.WindowTokens,
            },
        }, headers, cancellationToken: ct);
        ulong id = info.SequenceId;
        try
        {
            // Prefill in chunks: the first call prefills, later ones append.
            progress?.Report($"prefilling {baseRows:N0} keys/values (float16, {options.ChunkRows:N0} rows per message)");
            var clock = Stopwatch.StartNew();
            long sent = 0;
            for (int first = 0; first < baseRows; first += options.ChunkRows)
            {
                int rows = Math.Min(options.ChunkRows, baseRows - first);
                var request = new V1.PrefillKvRequest
                {
                    SequenceId = id,
                    Layer = 0,
                    KvHead = 0,
                    Keys = KvTensorMapping.FromFloatsAsHalf(head.Keys.AsSpan(first * d, rows * d), rows),
                    Values = KvTensorMapping.FromFloatsAsHalf(head.Values.AsSpan(first * d, rows * d), rows),
                };
                sent += request.CalculateSize();
                await kv.PrefillKvAsync(request, headers, cancellationToken: ct);
            }
            double prefillSeconds = clock.Elapsed.TotalSeconds;

            progress?.Report($"building {g} query head(s) from {baseRows:N0} prefill queries");
            clock.Restart();
            double serverBuild = 0;
            var training = KvTensorMapping.FromFloatsAsHalf(head.Queries.AsSpan(0, baseRows * d), baseRows);
            // One head per call keeps each message to one head's prefill queries (the server's message size limit).
            for (int h = 0; h < g; h++)
            {
                var build = new V1.BuildHeadsRequest
                {
                    SequenceId = id,
                    Options = new V1.KvBuildOptions { AppendMode = options.AppendMode, TrainingSampleRate = options.TrainingSampleRate },
                };
                build.Heads.Add(new V1.QueryHeadBuild { Head = new V1.HeadRef { Layer = 0, Head = (uint)h }, TrainingQueries = training });
                serverBuild += (await kv.BuildHeadsAsync(build, headers, cancellationToken: ct)).BuildSeconds;
            }
            double buildSeconds = clock.Elapsed.TotalSeconds;
            var described = await kv.DescribeSequenceAsync(new V1.SequenceRequest { SequenceId = id }, headers, cancellationToken: ct);

            bool observe = options.AppendMode == V1.KvAppendMode.QueryGuided;
            var passes = new List<KvReplayPass>();
            var reference = new ExactReference(head, dataset.QueryPositions, queryCount, options, baseRows, dataset.ScoreScale);
            passes.Add(await SearchPass("search", kv, headers, id, reference, options, calls, observe, ct));
            if (options.Attend)
                passes.Add(await AttendPass("attend", kv, headers, id, reference, options, calls, dataset.ScoreScale, ct));

            LatencyStats? appendLatency = null;
            if (options.Appends > 0)
            {
                progress?.Report($"appending {options.Appends:N0} decode rows, one step per call");
                var appendUs = new double[options.Appends];
                for (int p = baseRows; p < appendEnd; p++)
                {
                    var request = new V1.KvAppendRequest
                    {
                        SequenceId = id,
                        Layer = 0,
                        Keys = KvTensorMapping.FromFloatsAsHalf(head.Keys.AsSpan(p * d, d), 1),
                        Values = KvTensorMapping.FromFloatsAsHalf(head.Values.AsSpan(p * d, d), 1),
                    };
                    long t0 = Stopwatch.GetTimestamp();
                    await kv.AppendAsync(request, headers, cancellationToken: ct);
                    appendUs[p - baseRows] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }
                appendLatency = LatencyStats.FromMicroseconds(appendUs);
                var after = new ExactReference(head, dataset.QueryPositions, queryCount, options, appendEnd, dataset.ScoreScale);
                passes.Add(await SearchPass($"search after {options.Appends} appends", kv, headers, id, after, options, calls, observe, ct));
            }
            var released = await kv.ReleaseSequenceAsync(new V1.SequenceRequest { SequenceId = id }, headers, cancellationToken: ct);
            id = 0;
            return new KvReplayResult(dataset.Name, head.Name, d, baseRows, options.K, options.Ef, g, prefillSeconds, sent,
                buildSeconds, serverBuild, (long)described.MemoryBytes, passes, appendLatency, (long)released.FreedBytes);
        }
        finally
        {
            // A failed replay does not leave its sequence holding server memory.
            if (id != 0)
            {
                try { await kv.ReleaseSequenceAsync(new V1.SequenceRequest { SequenceId = id }, headers, cancellationToken: CancellationToken.None); }
                catch (Grpc.Core.RpcException) { }
            }
        }
    }

    private static V1.KvSearchRequest Request(ulong id, ExactReference reference, KvReplayOptions options, int call, bool observe, float scale)
    {
        int g = options.QueryHeads, d = reference.Dimension;
        var queries = new float[g * d];
        var request = new V1.KvSearchRequest { SequenceId = id, K = (uint)options.K, Ef = (uint)options.Ef, ObserveQueries = observe, ScoreScale = scale };
        for (int h = 0; h < g; h++)
        {
            request.Heads.Add(new V1.HeadRef { Layer = 0, Head = (uint)h });
            reference.Query(call * g + h).CopyTo(queries.AsSpan(h * d, d));
        }
        request.Queries = KvTensorMapping.FromFloats(queries, g);
        return request;
    }

    // Enough calls for both processes' tiered JIT to reach the optimized code of the hot paths (30 calls plus a background delay).
    private static int Warmup(int calls) => Math.Min(calls, 200);

    private static async Task<KvReplayPass> SearchPass(string name, V1.KvCache.KvCacheClient kv, Grpc.Core.Metadata? headers, ulong id,
        ExactReference reference, KvReplayOptions options, int calls, bool observe, CancellationToken ct)
    {
        int g = options.QueryHeads;
        for (int c = 0; c < Warmup(calls); c++)
            await kv.SearchAsync(Request(id, reference, options, c, false, 0), headers, cancellationToken: ct);
        var latencyUs = new double[calls];
        double recall = 0, scored = 0;
        int staticHits = 0;
        for (int c = 0; c < calls; c++)
        {
            var request = Request(id, reference, options, c, observe, 0);
            long t0 = Stopwatch.GetTimestamp();
            var reply = await kv.SearchAsync(request, headers, cancellationToken: ct);
            latencyUs[c] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            if (reply.Heads.Count != g) throw new RetrievalException(ErrorKind.Internal, $"server answered {reply.Heads.Count} heads for {g}");
            for (int h = 0; h < g; h++)
            {
                var hits = reply.Heads[h];
                recall += reference.Recall(c * g + h, hits.Positions, out int hitsInStatic);
                staticHits += hitsInStatic;
                scored += hits.KeysScored / (double)reference.Keys;
            }
        }
        // Throughput over the calls' own time: the exact reference work done here between calls is not the server's.
        double seconds = latencyUs.Sum() / 1e6;
        int headQueries = calls * g;
        return new KvReplayPass(name, reference.Keys, calls, g, recall / headQueries, scored / headQueries, staticHits,
            LatencyStats.FromMicroseconds(latencyUs), headQueries / seconds);
    }

    private static async Task<KvReplayPass> AttendPass(string name, V1.KvCache.KvCacheClient kv, Grpc.Core.Metadata? headers, ulong id,
        ExactReference reference, KvReplayOptions options, int calls, float scale, CancellationToken ct)
    {
        int g = options.QueryHeads, d = reference.Dimension;
        for (int c = 0; c < Warmup(calls); c++)
            await kv.AttendAsync(Request(id, reference, options, c, false, scale), headers, cancellationToken: ct);
        var latencyUs = new double[calls];
        double error = 0, floorError = 0, scored = 0;
        var merged = new float[d];
        for (int c = 0; c < calls; c++)
        {
            var request = Request(id, reference, options, c, false, scale);
            long t0 = Stopwatch.GetTimestamp();
            var reply = await kv.AttendAsync(request, headers, cancellationToken: ct);
            latencyUs[c] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            if (reply.Heads.Count != g) throw new RetrievalException(ErrorKind.Internal, $"server answered {reply.Heads.Count} heads for {g}");
            for (int h = 0; h < g; h++)
            {
                var part = reply.Heads[h];
                if (part.Output.Count != d) throw new RetrievalException(ErrorKind.Internal, $"server answered an output of {part.Output.Count} values for head dim {d}");
                var output = new float[d];
                part.Output.CopyTo(output, 0);
                error += reference.MergedError(c * g + h, output, part.LogSumExp, merged, exactTopK: false);
                floorError += reference.MergedError(c * g + h, output, part.LogSumExp, merged, exactTopK: true);
                scored += part.KeysScored / (double)reference.Keys;
            }
        }
        // Throughput over the calls' own time: the exact reference work done here between calls is not the server's.
        double seconds = latencyUs.Sum() / 1e6;
        int headQueries = calls * g;
        return new KvReplayPass(name, reference.Keys, calls, g, double.NaN, scored / headQueries, 0,
            LatencyStats.FromMicroseconds(latencyUs), headQueries / seconds)
        {
            AttentionRelativeError = error / headQueries,
            ExactTopKAttentionRelativeError = floorError / headQueries,
        };
    }

    /// <summary>
    /// Exact answers for the replay's decode queries over keys [0, keys), computed here by a full scan: the k-th
    /// score outside the static part (tie-aware recall), and full attention (the attend pass's reference).
    /// </summary>
    private sealed class ExactReference
    {
        private readonly KvHeadData _head;
        private readonly int[] _positions;
        private readonly float[] _kth;
        private readonly int _k, _sink, _window;
        private readonly float _scale;
        private readonly int[][]? _exactTop;
        private readonly Dictionary<int, (float[], float, float[])> _attentionCache = new();

        public ExactReference(KvHeadData head, int[] queryPositions, int queries, KvReplayOptions options, int keys, float scale)
        {
            _head = head;
            _positions = queryPositions;
            Keys = keys;
            _k = options.K;
            _sink = options.SinkTokens;
            _window = options.WindowTokens;
            _scale = scale;
            _kth = new float[queries];
            _exactTop = options.Attend ? new int[queries][] : null;
            Parallel.For(0, queries, () => (new TopKHeap(_k), new float[keys]), (q, _, local) =>
            {
                var (heap, scores) = local;
                Scores(Query(q), scores);
                heap.Clear();
                for (int p = _sink; p < keys - _window; p++) heap.Push(p, scores[p]);
                _kth[q] = heap.Threshold;
                if (_exactTop is not null)
                {
                    var ids = new int[_k];
                    heap.DrainSorted(ids, new float[_k]);
                    _exactTop[q] = ids;
                }
                return local;
            }, _ => { });
        }

        public int Keys { get; }
        public int Dimension => _head.Dimension;
        public ReadOnlySpan<float> Query(int q) => _head.Query(_positions[q]);

        private void Scores(ReadOnlySpan<float> query, Span<float> scores)
        {
            int d = _head.Dimension;
            for (int p = 0; p < scores.Length; p++) scores[p] = TensorPrimitives.Dot(query, _head.Keys.AsSpan(p * d, d));
        }

        private float Score(int q, int position) =>
            TensorPrimitives.Dot(Query(q), _head.Keys.AsSpan(position * _head.Dimension, _head.Dimension));

        private bool IsStatic(int position) => position < _sink || position >= Keys - _window;

        /// <summary>Share of k returned positions whose exact score reaches the k-th exact score (ties count).</summary>
        public double Recall(int q, IReadOnlyList<int> returned, out int staticHits)
        {
            staticHits = 0;
            float kth = _kth[q];
            float tolerance = 1e-5f * Math.Abs(kth) + 1e-6f;
            int correct = 0;
            var seen = new HashSet<int>();
            foreach (int p in returned)
            {
                if (p < 0 || p >= Keys || !seen.Add(p)) continue;
                if (IsStatic(p)) { staticHits++; continue; }
                if (Score(q, p) >= kth - tolerance) correct++;
            }
            return correct / (double)_k;
        }

        /// <summary>
        /// Relative L2 error of the static part merged with the retrieved part (the server's, or the exact top-k when
        /// <paramref name="exactTopK"/>) against softmax attention over all keys.
        /// </summary>
        public double MergedError(int q, float[] retrievedOutput, float retrievedLse, float[] merged, bool exactTopK)
        {
            if (_exactTop is null) throw new InvalidOperationException("attention reference not computed");
            var (staticOut, staticLse, full) = AttentionReference(q);
            if (exactTopK)
            {
                retrievedOutput = new float[Dimension];
                retrievedLse = Attention(Query(q), _exactTop[q], retrievedOutput);
            }
            AttentionMerge.Merge(staticOut, staticLse, retrievedOutput, retrievedLse, merged);
            double diff = 0, norm = 0;
            for (int i = 0; i < merged.Length; i++)
            {
                diff += (merged[i] - (double)full[i]) * (merged[i] - (double)full[i]);
                norm += (double)full[i] * full[i];
            }
            return Math.Sqrt(diff / norm);
        }

        private (float[] StaticOutput, float StaticLse, float[] Full) AttentionReference(int q)
        {
            if (_attentionCache.TryGetValue(q, out var cached)) return cached;
            var staticOut = new float[Dimension];
            float staticLse = Attention(Query(q), StaticPositions(), staticOut);
            var full = new float[Dimension];
            Attention(Query(q), AllPositions(), full);
            return _attentionCache[q] = (staticOut, staticLse, full);
        }

        private IEnumerable<int> StaticPositions()
        {
            for (int p = 0; p < Math.Min(_sink, Keys); p++) yield return p;
            for (int p = Math.Max(_sink, Keys - _window); p < Keys; p++) yield return p;
        }

        private IEnumerable<int> AllPositions()
        {
            for (int p = 0; p < Keys; p++) yield return p;
        }

        /// <summary>Softmax attention over the given positions in double precision; returns the log-sum-exp of the scaled scores.</summary>
        private float Attention(ReadOnlySpan<float> query, IEnumerable<int> positions, float[] output)
        {
            int d = _head.Dimension;
            double max = double.NegativeInfinity;
            foreach (int p in positions) max = Math.Max(max, _scale * (double)TensorPrimitives.Dot(query, _head.Keys.AsSpan(p * d, d)));
            var sum = new double[d];
            double weights = 0;
            foreach (int p in positions)
            {
                double w = Math.Exp(_scale * (double)TensorPrimitives.Dot(query, _head.Keys.AsSpan(p * d, d)) - max);
                weights += w;
                var value = _head.Values.AsSpan(p * d, d);
                for (int i = 0; i < d; i++) sum[i] += w * value[i];
            }
            for (int i = 0; i < d; i++) output[i] = (float)(sum[i] / weights);
            return (float)(max + Math.Log(weights));
        }
    }
}
