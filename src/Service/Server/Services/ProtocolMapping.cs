using Google.Protobuf;
using Retrieval.Index.Errors;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Service.Hosting;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Service.Services;

/// <summary>Converts between retrieval.v1 messages and the engine's types, checking the server's limits on the way in.</summary>
internal static class ProtocolMapping
{
    public static CollectionSchema ToSchema(V1.CollectionSchema? schema, ServiceLimits limits)
    {
        if (schema is null) Guard.ThrowInvalid("schema is required");
        DenseFieldSchema? dense = null;
        if (schema.Dense is { } d)
        {
            if (d.Dimension > limits.MaxDimension)
                throw new RetrievalException(ErrorKind.ResourceExhausted, $"schema.dense.dimension {d.Dimension} exceeds the server's max_dimension {limits.MaxDimension}");
            dense = new DenseFieldSchema((int)d.Dimension, ToMetric(d.Metric)) { Index = ToDenseIndex(d.Index) };
        }
        SparseFieldSchema? sparse = schema.Sparse is { } s
            ? new SparseFieldSchema(s.VocabularySize == 0 ? SparseFieldSchema.BertVocabularySize : (int)Math.Min(s.VocabularySize, int.MaxValue)) { Index = ToSparseIndex(s.Index) }
            : null;
        var key = schema.KeyKind switch
        {
            V1.KeyKind.Unspecified or V1.KeyKind.String => KeyKind.String,
            V1.KeyKind.Integer => KeyKind.Integer,
            _ => throw new RetrievalException(ErrorKind.InvalidInput, $"schema.key_kind {(int)schema.KeyKind} is unknown"),
        };
        var payload = schema.PayloadKind switch
        {
            V1.PayloadKind.Unspecified or V1.PayloadKind.Json => PayloadKind.Json,
            V1.PayloadKind.Bytes => PayloadKind.Bytes,
            _ => throw new RetrievalException(ErrorKind.InvalidInput, $"schema.payload_kind {(int)schema.PayloadKind} is unknown"),
        };
        return new CollectionSchema(schema.Name, key, dense, sparse, payload, schema.TextEncoders);
    }

    /// <summary>Index options from the wire; unset fields keep the engine's defaults, and the engine validates ranges.</summary>
    public static DenseIndexOptions? ToDenseIndex(V1.DenseIndex? index)
    {
        if (index is null) return null;
        var d = DenseIndexOptions.Default;
        return new DenseIndexOptions
        {
            Kind = index.Kind switch
            {
                V1.DenseIndexKind.Unspecified or V1.DenseIndexKind.Spann => DenseIndexKind.Spann,
                V1.DenseIndexKind.Exact => DenseIndexKind.Exact,
                _ => throw new RetrievalException(ErrorKind.InvalidInput, $"schema.dense.index.kind {(int)index.Kind} is unknown"),
            },
            MinRows = index.HasMinRows ? Clamp(index.MinRows) : d.MinRows,
            Build = d.Build with
            {
                HeadRatio = index.HasHeadRatio ? index.HeadRatio : d.Build.HeadRatio,
                ReplicaCount = index.HasReplicaCount ? Clamp(index.ReplicaCount) : d.Build.ReplicaCount,
                PostingPages = index.HasPostingPages ? Clamp(index.PostingPages) : d.Build.PostingPages,
                Storage = index.Storage switch
                {
                    V1.SpannStorage.Unspecified => d.Build.Storage,
                    V1.SpannStorage.Float32 => SpannStorage.Float32,
                    V1.SpannStorage.Float16 => SpannStorage.Float16,
                    V1.SpannStorage.Int8 => SpannStorage.Int8,
                    _ => throw new RetrievalException(ErrorKind.InvalidInput, $"schema.dense.index.storage {(int)index.Storage} is unknown"),
                },
            },
            Search = d.Search with
            {
                Heads = index.HasSearchHeads ? Clamp(index.SearchHeads) : d.Search.Heads,
                PruneEpsilon = index.HasPruneEpsilon ? index.PruneEpsilon : d.Search.PruneEpsilon,
            },
            InMemory = index.HasInMemory ? index.InMemory : d.InMemory,
        };
    }

    public static SparseIndexOptions? ToSparseIndex(V1.SparseIndex? index)
    {
        if (index is null) return null;
        var d = SparseIndexOptions.Default;
        return new SparseIndexOptions
        {
            Kind = index.Kind switch
            {
                V1.SparseIndexKind.Unspecified or V1.SparseIndexKind.Seismic => SparseIndexKind.Seismic,
                V1.SparseIndexKind.Exact => SparseIndexKind.Exact,
                _ => throw new RetrievalException(ErrorKind.InvalidInput, $"schema.sparse.index.kind {(int)index.Kind} is unknown"),
            },
            MinRows = index.HasMinRows ? Clamp(index.MinRows) : d.MinRows,
            Build = d.Build with
            {
                AvgPostings = index.HasAvgPostings ? index.AvgPostings : d.Build.AvgPostings,
                CentroidFraction = index.HasCentroidFraction ? index.CentroidFraction : d.Build.CentroidFraction,
                SummaryEnergy = index.HasSummaryEnergy ? index.SummaryEnergy : d.Build.SummaryEnergy,
                KnnNeighbours = index.HasKnnNeighbours ? Clamp(index.KnnNeighbours) : d.Build.KnnNeighbours,
            },
            Search = d.Search with
            {
                QueryCut = index.HasQueryCut ? Clamp(index.QueryCut) : d.Search.QueryCut,
                HeapFactor = index.HasHeapFactor ? index.HeapFactor : d.Search.HeapFactor,
                HeapFactorGrowth = index.HasHeapFactorGrowth ? index.HeapFactorGrowth : d.Search.HeapFactorGrowth,
            },
        };
    }

    // uint32 wire values above int.MaxValue become int.MaxValue, which the engine's range checks then name.
    private static int Clamp(uint value) => (int)Math.Min(value, int.MaxValue);

    private static V1.DenseIndex FromDenseIndex(DenseIndexOptions i) => new()
    {
        Kind = i.Kind == DenseIndexKind.Exact ? V1.DenseIndexKind.Exact : V1.DenseIndexKind.Spann,
        MinRows = (uint)i.MinRows,
        HeadRatio = i.Build.HeadRatio,
        ReplicaCount = (uint)i.Build.ReplicaCount,
        PostingPages = (uint)i.Build.PostingPages,
        Storage = i.Build.StorageFor(ElementType.Float32) switch { SpannStorage.Float16 => V1.SpannStorage.Float16, SpannStorage.Int8 => V1.SpannStorage.Int8, _ => V1.SpannStorage.Float32 },
        SearchHeads = (uint)i.Search.Heads,
        PruneEpsilon = i.Search.PruneEpsilon,
        InMemory = i.InMemory,
    };

    private static V1.SparseIndex FromSparseIndex(SparseIndexOptions i) => new()
    {
        Kind = i.Kind == SparseIndexKind.Exact ? V1.SparseIndexKind.Exact : V1.SparseIndexKind.Seismic,
        MinRows = (uint)i.MinRows,
        AvgPostings = i.Build.AvgPostings,
        CentroidFraction = i.Build.CentroidFraction,
        SummaryEnergy = i.Build.SummaryEnergy,
        QueryCut = (uint)i.Search.QueryCut,
        HeapFactor = i.Search.HeapFactor,
        HeapFactorGrowth = i.Search.HeapFactorGrowth,
        KnnNeighbours = (uint)i.Build.KnnNeighbours,
    };

    public static Metric ToMetric(V1.Metric metric) => metric switch
    {
        V1.Metric.L2 => Metric.L2,
        V1.Metric.InnerProduct => Metric.InnerProduct,
        V1.Metric.Cosine => Metric.Cosine,
        V1.Metric.Unspecified => throw new RetrievalException(ErrorKind.InvalidInput, "schema.dense.metric is required (METRIC_L2, METRIC_INNER_PRODUCT or METRIC_COSINE)"),
        _ => throw new RetrievalException(ErrorKind.InvalidInput, $"schema.dense.metric {(int)metric} is unknown"),
    };

    public static V1.Metric FromMetric(Metric metric) => metric switch
    {
        Metric.L2 => V1.Metric.L2,
        Metric.InnerProduct => V1.Metric.InnerProduct,
        _ => V1.Metric.Cosine,
    };

    public static V1.CollectionInfo FromInfo(CollectionInfo info)
    {
        var s = info.Schema;
        var schema = new V1.CollectionSchema
        {
            Name = s.Name,
            KeyKind = s.Key == KeyKind.Integer ? V1.KeyKind.Integer : V1.KeyKind.String,
            PayloadKind = s.Payload == PayloadKind.Bytes ? V1.PayloadKind.Bytes : V1.PayloadKind.Json,
            TextEncoders = s.TextEncoders,
        };
        if (s.Dense is { } d)
            schema.Dense = new V1.DenseField { Dimension = (uint)d.Dimension, Metric = FromMetric(d.Metric), Index = FromDenseIndex(d.Index ?? DenseIndexOptions.Default) };
        if (s.Sparse is { } sp)
            schema.Sparse = new V1.SparseField { VocabularySize = (uint)sp.VocabularySize, Index = FromSparseIndex(sp.Index ?? SparseIndexOptions.Default) };
        return new V1.CollectionInfo
        {
            Schema = schema,
            RecordCount = (ulong)info.RecordCount,
            SegmentCount = (uint)info.SegmentCount,
            MutableRows = (uint)info.MutableRows,
            Tombstones = (ulong)info.Tombstones,
            IndexedSegments = (uint)info.IndexedSegments,
            AttachedSegments = (uint)info.AttachedSegments,
            Compactions = (uint)info.Compactions,
            BackgroundJobs = (uint)info.BackgroundJobs,
        };
    }

    public static RecordKey ToKey(V1.RecordId? id, string field) => id?.KindCase switch
    {
        V1.RecordId.KindOneofCase.Number => RecordKey.Of(id.Number),
        V1.RecordId.KindOneofCase.Text => string.IsNullOrEmpty(id.Text)
            ? throw new RetrievalException(ErrorKind.InvalidInput, $"{field}.text is empty")
            : RecordKey.Of(id.Text),
        _ => throw new RetrievalException(ErrorKind.InvalidInput, $"{field} is required (text or number)"),
    };

    public static V1.RecordId FromKey(RecordKey key) =>
        key.Kind == KeyKind.Integer ? new V1.RecordId { Number = key.Integer } : new V1.RecordId { Text = key.String };

    public static SparseTerms? ToSparse(V1.SparseVector? sparse, string field)
    {
        if (sparse is null) return null;
        if (sparse.Indices.Count != sparse.Values.Count)
            Guard.ThrowInvalid($"{field} has {sparse.Indices.Count} indices but {sparse.Values.Count} values");
        var indices = new int[sparse.Indices.Count];
        for (int i = 0; i < indices.Length; i++)
        {
            uint t = sparse.Indices[i];
            if (t > int.MaxValue) Guard.ThrowInvalid($"{field}.indices[{i}] = {t} is too large");
            indices[i] = (int)t;
        }
        var values = new float[sparse.Values.Count];
        sparse.Values.CopyTo(values, 0);
        return SparseTerms.Normalize(indices, values);
    }

    public static V1.SparseVector FromSparse(SparseTerms sparse)
    {
        var v = new V1.SparseVector();
        foreach (int t in sparse.Indices) v.Indices.Add((uint)t);
        v.Values.Add(sparse.Values);
        return v;
    }

    public static List<EngineRecord> ToRecords(Google.Protobuf.Collections.RepeatedField<V1.Record> records, ServiceLimits limits)
    {
        limits.CheckBatch(records.Count, "records");
        var result = new List<EngineRecord>(records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i];
            string field = $"records[{i}]";
            if (r.Vector.Count > limits.MaxDimension)
                throw new RetrievalException(ErrorKind.ResourceExhausted, $"{field}.vector has {r.Vector.Count} dimensions, the server's max_dimension is {limits.MaxDimension}");
            if (r.Text.Length > 0) limits.CheckText(r.Text, $"{field}.text");
            result.Add(new EngineRecord(
                ToKey(r.Id, $"{field}.id"),
                r.Vector.Count > 0 ? [.. r.Vector] : null,
                ToSparse(r.Sparse, $"{field}.sparse"),
                r.Payload.IsEmpty ? null : r.Payload.ToByteArray(),
                r.Text.Length > 0 ? r.Text : null));
        }
        return result;
    }

    public static Query.Engine.SearchRequest ToQuery(V1.Query? query, ServiceLimits limits, string field)
    {
        if (query is null) Guard.ThrowInvalid($"{field} is required");
        int k = query.K == 0 ? Query.Engine.SearchRequest.DefaultK : (int)Math.Min(query.K, int.MaxValue);
        if (k > limits.MaxK) throw new RetrievalException(ErrorKind.ResourceExhausted, $"{field}.k = {query.K} exceeds the server's max_k {limits.MaxK}");
        if (query.Candidates > limits.MaxK)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"{field}.candidates = {query.Candidates} exceeds the server's max_k {limits.MaxK}");
        if (query.Vector.Count > limits.MaxDimension)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"{field}.vector has {query.Vector.Count} dimensions, the server's max_dimension is {limits.MaxDimension}");
        if (query.Text.Length > 0) limits.CheckText(query.Text, $"{field}.text");
        var mode = query.Mode switch
        {
            V1.SearchMode.Auto => SearchMode.Auto,
            V1.SearchMode.Dense => SearchMode.Dense,
            V1.SearchMode.Sparse => SearchMode.Sparse,
            V1.SearchMode.Hybrid => SearchMode.Hybrid,
            _ => throw new RetrievalException(ErrorKind.InvalidInput, $"{field}.mode {(int)query.Mode} is unknown"),
        };
        var fusion = query.Fusion switch
        {
            V1.Fusion.Rrf => FusionMethod.ReciprocalRank,
            V1.Fusion.Weighted => FusionMethod.WeightedScore,
            _ => throw new RetrievalException(ErrorKind.InvalidInput, $"{field}.fusion {(int)query.Fusion} is unknown"),
        };
        if (query.HasRrfK && query.RrfK > 1_000_000) Guard.ThrowInvalid($"{field}.rrf_k must be at most 1000000, got {query.RrfK}");
        return new Query.Engine.SearchRequest
        {
            Vector = query.Vector.Count > 0 ? [.. query.Vector] : null,
            Sparse = ToSparse(query.Sparse, $"{field}.sparse"),
            Text = query.Text.Length > 0 ? query.Text : null,
            Mode = mode,
            K = k,
            Fusion = fusion,
            DenseWeight = query.HasDenseWeight ? query.DenseWeight : 1f,
            SparseWeight = query.HasSparseWeight ? query.SparseWeight : 1f,
            RrfConstant = query.HasRrfK ? (int)query.RrfK : Query.Engine.SearchRequest.DefaultRrfConstant,
            Candidates = (int)query.Candidates,
            WithPayload = query.WithPayload,
        };
    }

    public static V1.SearchResponse FromHits(IReadOnlyList<SearchHit> hits)
    {
        var response = new V1.SearchResponse();
        foreach (var hit in hits)
        {
            var h = new V1.Hit { Id = FromKey(hit.Key), Score = hit.Score };
            if (hit.Payload is not null) h.Payload = ByteString.CopyFrom(hit.Payload);
            response.Hits.Add(h);
        }
        return response;
    }
}
