using System.Diagnostics;
using Grpc.Core;
using Retrieval.Index.Attention;
using Retrieval.Index.Errors;
using Retrieval.Query.Attention;
using Retrieval.Service.Client;
using Retrieval.Service.Hosting;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Service.Services;

/// <summary>
/// retrieval.v1.KvCache over the embedded <see cref="KvCache"/>: sequences with a static sink/window part, prefill
/// per KV head, index builds per query head, batched search/attend across heads, decode appends, release. The
/// cache's memory limit (<see cref="ServiceLimits.KvMemoryLimitBytes"/>) turns into RESOURCE_EXHAUSTED; request
/// limits (heads per call, k, head dimension) likewise; bad fields are INVALID_ARGUMENT naming the field.
/// </summary>
public sealed class KvCacheService(KvCache cache, ServerOptions options) : V1.KvCache.KvCacheBase
{
    private ServiceLimits Limits => options.Limits;

    public override Task<V1.SequenceInfo> CreateSequence(V1.CreateSequenceRequest request, ServerCallContext context)
    {
        var s = request.Shape ?? throw new RetrievalException(ErrorKind.InvalidInput, "shape is required");
        RequirePositive(s.Layers, "shape.layers");
        RequirePositive(s.KvHeads, "shape.kv_heads");
        RequirePositive(s.QueryHeadsPerKvHead, "shape.query_heads_per_kv_head");
        RequirePositive(s.HeadDim, "shape.head_dim");
        if (s.HeadDim > Limits.MaxDimension)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"shape.head_dim {s.HeadDim} exceeds the server's max_dimension {Limits.MaxDimension}");
        long queryHeads = (long)s.KvHeads * s.QueryHeadsPerKvHead;
        if (s.Layers > 4096 || queryHeads > 4096)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"shape has {s.Layers} layers x {queryHeads} query heads; the server allows at most 4096 of each");
        if (s.SinkTokens > int.MaxValue || s.WindowTokens > int.MaxValue) Guard.ThrowInvalid("shape.sink_tokens/window_tokens are too large");
        var shape = new KvSequenceShape((int)s.Layers, (int)queryHeads, (int)s.KvHeads, (int)s.HeadDim)
        {
            SinkTokens = (int)s.SinkTokens,
            WindowTokens = (int)s.WindowTokens,
        };
        long id = cache.CreateSequence(shape);
        return Task.FromResult(Info(id));
    }

    public override Task<V1.PrefillKvResponse> PrefillKv(V1.PrefillKvRequest request, ServerCallContext context)
    {
        var shape = cache.ShapeOf((long)request.SequenceId);
        int d = shape.HeadDimension;
        int layer = Index(request.Layer, "layer"), kvHead = Index(request.KvHead, "kv_head");
        var keys = KvTensorMapping.ToFloats(request.Keys, d, "keys");
        var values = KvTensorMapping.ToFloats(request.Values, d, "values", (int)request.Keys.Rows);
        int rows = keys.Length / d;
        long id = (long)request.SequenceId;
        var info = cache.Describe(id);
        if (layer >= shape.LayerCount) throw new RetrievalException(ErrorKind.NotFound, $"layer {layer} does not exist: sequence {id} has {shape.LayerCount} layers");
        if (kvHead >= shape.KvHeadCount) throw new RetrievalException(ErrorKind.NotFound, $"kv_head {kvHead} does not exist: sequence {id} has {shape.KvHeadCount} KV heads per layer");
        int first;
        if (info.TokenCounts[layer * shape.KvHeadCount + kvHead] == 0)
        {
            cache.SetKeyValues(id, layer, kvHead, keys, values, rows);
            first = 0;
        }
        else
        {
            first = cache.Append(id, layer, kvHead, keys, values);
        }
        return Task.FromResult(new V1.PrefillKvResponse
        {
            FirstPosition = (uint)first,
            TokenCount = (uint)(first + rows),
            MemoryBytes = (ulong)cache.MemoryBytes(id),
        });
    }

    public override Task<V1.BuildHeadsResponse> BuildHeads(V1.BuildHeadsRequest request, ServerCallContext context)
    {
        long id = (long)request.SequenceId;
        var shape = cache.ShapeOf(id);
        if (request.Heads.Count == 0) Guard.ThrowInvalid("heads is empty: name at least one query head to build");
        Limits.CheckBatch(request.Heads.Count, "heads");
        var buildOptions = AttentionIndexOptions.Default;
        if (request.Options is { } o)
        {
            if (o.KTrain != 0) buildOptions = buildOptions with { TrainingNeighbors = (int)Math.Min(o.KTrain, int.MaxValue) };
            if (o.Connectivity != 0) buildOptions = buildOptions with { Connectivity = (int)Math.Min(o.Connectivity, int.MaxValue) };
            if (o.TrainingSampleRate != 0) buildOptions = buildOptions with { TrainingSampleRate = o.TrainingSampleRate };
            buildOptions = buildOptions with
            {
                AppendMode = o.AppendMode switch
                {
                    V1.KvAppendMode.Unspecified or V1.KvAppendMode.Buffered => AppendMode.Buffered,
                    V1.KvAppendMode.QueryGuided => AppendMode.QueryGuided,
                    _ => throw new RetrievalException(ErrorKind.InvalidInput, $"options.append_mode {(int)o.AppendMode} is unknown"),
                },
            };
            try { buildOptions.Validate(); }
            catch (RetrievalException e) { throw new RetrievalException(ErrorKind.InvalidInput, $"options: {e.Message}"); }
        }
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < request.Heads.Count; i++)
        {
            var build = request.Heads[i];
            string field = $"heads[{i}]";
            var head = HeadOf(build.Head, $"{field}.head");
            var training = KvTensorMapping.ToFloats(build.TrainingQueries, shape.HeadDimension, $"{field}.training_queries");
            cache.BuildHead(id, head, training, training.Length / shape.HeadDimension, buildOptions);
        }
        return Task.FromResult(new V1.BuildHeadsResponse
        {
            HeadsBuilt = (uint)request.Heads.Count,
            BuildSeconds = clock.Elapsed.TotalSeconds,
            MemoryBytes = (ulong)cache.MemoryBytes(id),
        });
    }

    public override Task<V1.KvSearchResponse> Search(V1.KvSearchRequest request, ServerCallContext context)
    {
        var (id, heads, queries, k, parameters) = Prepare(request);
        var ids = new int[heads.Length * k];
        var scores = new float[heads.Length * k];
        var scored = new int[heads.Length];
        cache.Search(id, heads, queries, k, parameters, ids, scores, scored);
        if (request.ObserveQueries) cache.ObserveQueries(id, heads, queries);
        var response = new V1.KvSearchResponse();
        for (int h = 0; h < heads.Length; h++)
        {
            var hits = new V1.HeadHits { KeysScored = (uint)scored[h] };
            for (int j = 0; j < k; j++)
            {
                if (ids[h * k + j] < 0) break;
                hits.Positions.Add(ids[h * k + j]);
                hits.Scores.Add(scores[h * k + j]);
            }
            response.Heads.Add(hits);
        }
        return Task.FromResult(response);
    }

    public override Task<V1.KvAttendResponse> Attend(V1.KvSearchRequest request, ServerCallContext context)
    {
        var (id, heads, queries, k, parameters) = Prepare(request);
        int d = queries.Length / heads.Length;
        var outputs = new float[queries.Length];
        var lse = new float[heads.Length];
        var scored = new int[heads.Length];
        cache.Attend(id, heads, queries, k, parameters, outputs, lse, scored);
        if (request.ObserveQueries) cache.ObserveQueries(id, heads, queries);
        var response = new V1.KvAttendResponse();
        for (int h = 0; h < heads.Length; h++)
        {
            var a = new V1.HeadAttention { LogSumExp = lse[h], KeysScored = (uint)scored[h] };
            a.Output.Add(outputs.AsSpan(h * d, d).ToArray());
            response.Heads.Add(a);
        }
        return Task.FromResult(response);
    }

    public override Task<V1.KvAppendResponse> Append(V1.KvAppendRequest request, ServerCallContext context)
    {
        long id = (long)request.SequenceId;
        var shape = cache.ShapeOf(id);
        int layer = Index(request.Layer, "layer");
        var keys = KvTensorMapping.ToFloats(request.Keys, shape.HeadDimension, "keys", shape.KvHeadCount);
        var values = KvTensorMapping.ToFloats(request.Values, shape.HeadDimension, "values", shape.KvHeadCount);
        int position = cache.AppendStep(id, layer, keys, values);
        return Task.FromResult(new V1.KvAppendResponse { Position = (uint)position, MemoryBytes = (ulong)cache.MemoryBytes(id) });
    }

    public override Task<V1.SequenceInfo> DescribeSequence(V1.SequenceRequest request, ServerCallContext context) =>
        Task.FromResult(Info((long)request.SequenceId));

    public override Task<V1.ReleaseSequenceResponse> ReleaseSequence(V1.SequenceRequest request, ServerCallContext context)
    {
        long id = (long)request.SequenceId;
        long before = cache.TotalMemoryBytes;
        cache.Release(id);
        return Task.FromResult(new V1.ReleaseSequenceResponse { FreedBytes = (ulong)Math.Max(0, before - cache.TotalMemoryBytes) });
    }

    private (long Id, KvHeadRef[] Heads, float[] Queries, int K, AttentionSearchParameters Parameters) Prepare(V1.KvSearchRequest request)
    {
        long id = (long)request.SequenceId;
        var shape = cache.ShapeOf(id);
        if (request.Heads.Count == 0) Guard.ThrowInvalid("heads is empty: name at least one query head");
        Limits.CheckBatch(request.Heads.Count, "heads");
        if (request.K == 0) Guard.ThrowInvalid("k must be >= 1");
        if (request.K > Limits.MaxK)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"k {request.K} exceeds the server's max_k {Limits.MaxK}");
        if (float.IsNaN(request.ScoreScale) || request.ScoreScale < 0 || float.IsInfinity(request.ScoreScale))
            Guard.ThrowInvalid($"score_scale must be a positive finite number (0 = 1/sqrt(head_dim)), got {request.ScoreScale}");
        var heads = new KvHeadRef[request.Heads.Count];
        for (int i = 0; i < heads.Length; i++) heads[i] = HeadOf(request.Heads[i], $"heads[{i}]");
        var queries = KvTensorMapping.ToFloats(request.Queries, shape.HeadDimension, "queries", heads.Length);
        var parameters = new AttentionSearchParameters
        {
            SearchBeamWidth = request.Ef == 0 ? AttentionSearchParameters.DefaultSearchBeamWidth : (int)Math.Min(request.Ef, 1_000_000),
            SinkTokens = shape.SinkTokens,
            WindowTokens = shape.WindowTokens,
            ScoreScale = request.ScoreScale == 0 ? float.NaN : request.ScoreScale,
        };
        return (id, heads, queries, (int)request.K, parameters);
    }

    private V1.SequenceInfo Info(long id)
    {
        var info = cache.Describe(id);
        var shape = info.Shape;
        var reply = new V1.SequenceInfo
        {
            SequenceId = (ulong)id,
            Shape = new V1.SequenceShape
            {
                Layers = (uint)shape.LayerCount,
                KvHeads = (uint)shape.KvHeadCount,
                QueryHeadsPerKvHead = (uint)shape.QueryHeadsPerKvHead,
                HeadDim = (uint)shape.HeadDimension,
                SinkTokens = (uint)shape.SinkTokens,
                WindowTokens = (uint)shape.WindowTokens,
            },
            MemoryBytes = (ulong)info.MemoryBytes,
            CacheMemoryBytes = (ulong)cache.TotalMemoryBytes,
            CacheMemoryLimitBytes = (ulong)cache.Options.MemoryLimitBytes,
            BuiltHeads = (uint)info.BuiltHeads,
        };
        foreach (int count in info.TokenCounts) reply.TokenCounts.Add((uint)count);
        return reply;
    }

    private static KvHeadRef HeadOf(V1.HeadRef? head, string field)
    {
        if (head is null) Guard.ThrowInvalid($"{field} is required");
        return new KvHeadRef(Index(head!.Layer, $"{field}.layer"), Index(head.Head, $"{field}.head"));
    }

    private static int Index(uint value, string field)
    {
        if (value > int.MaxValue) throw new RetrievalException(ErrorKind.NotFound, $"{field} {value} does not exist");
        return (int)value;
    }

    private static void RequirePositive(uint value, string field)
    {
        if (value == 0) Guard.ThrowInvalid($"{field} must be >= 1");
    }
}
