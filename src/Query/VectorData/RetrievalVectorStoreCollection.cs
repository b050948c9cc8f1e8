#pragma warning disable MEVD9001 // provider-services model types are experimental in VectorData 10.x
using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Microsoft.Extensions.VectorData.ProviderServices;
using Retrieval.Index.Errors;
using Retrieval.Query.Engine;

namespace Retrieval.Query.VectorData;

/// <summary>
/// One engine collection seen through Microsoft.Extensions.VectorData, so Semantic Kernel and other .NET AI code can
/// use the engine as a vector store. Writes are durable when the returned task completes (the engine's write-ahead
/// log). The record's vector property becomes the collection's dense field (its distance function picks the metric);
/// a full-text-indexed string property becomes the engine's BM25 sparse field when the engine's text encoders can be
/// used (no vector, or a 384-d one), which enables <see cref="HybridSearchAsync"/>.
/// <para>Filters (<c>VectorSearchOptions.Filter</c>) are evaluated on the records the index returns, fetching more
/// candidates until enough pass: exact for the predicate, but a very selective filter costs up to
/// <see cref="RetrievalEngine.MaxK"/> candidates per search and may then return fewer than <c>top</c>.</para>
/// </summary>
public sealed class RetrievalVectorStoreCollection<TKey, TRecord> : VectorStoreCollection<TKey, TRecord>, IKeywordHybridSearchable<TRecord>
    where TKey : notnull
    where TRecord : class
{
    private const int FirstFilterFetch = 32;
    private readonly RetrievalEngine _engine;
    private readonly CollectionModel _model;
    private readonly RecordMapper _mapper;
    private readonly DistanceMapping? _distance;
    private readonly bool _textEncoders;
    private readonly VectorStoreCollectionMetadata _metadata;

    internal RetrievalVectorStoreCollection(RetrievalEngine engine, string name, CollectionModel model, RetrievalVectorStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(engine);
        CollectionSchema.ValidateName(name);
        _engine = engine;
        Name = name;
        _model = model;
        _mapper = new RecordMapper(model, options.JsonSerializerOptions);
        if (_mapper.Vector is { } vector)
        {
            if (vector.Dimensions < 1) throw new NotSupportedException($"vector property '{vector.ModelName}' needs Dimensions >= 1");
            if (vector.IndexKind is not null && vector.IndexKind != IndexKind.Flat)
                throw new NotSupportedException($"vector property '{vector.ModelName}' asks for index kind '{vector.IndexKind}'; the engine collection indexes its dense field itself (use null or {IndexKind.Flat})");
            _distance = DistanceMapping.For(vector.DistanceFunction, vector.ModelName);
        }
        _textEncoders = _mapper.FullText is not null
            && (_mapper.Vector is null || _mapper.Vector.Dimensions == Encoders.MiniLmEncoder.Dimension);
        if (_mapper.Vector is null && !_textEncoders)
            throw new NotSupportedException($"record type {typeof(TRecord).Name} has neither a vector property nor a full-text-indexed string property to search by");
        _metadata = new VectorStoreCollectionMetadata
        {
            VectorStoreSystemName = RetrievalVectorStore.SystemName,
            VectorStoreName = Path.GetFileName(engine.DirectoryPath),
            CollectionName = name,
        };
    }

    public override string Name { get; }

    /// <summary>The engine schema this collection creates (and expects when it already exists).</summary>
    public CollectionSchema Schema => new(
        Name,
        _mapper.Keys.Kind,
        _mapper.Vector is { } v ? new DenseFieldSchema(v.Dimensions, _distance!.Value.Metric) : null,
        _textEncoders ? new SparseFieldSchema(SparseFieldSchema.BertVocabularySize) : null,
        PayloadKind.Json,
        TextEncoders: _textEncoders);

    public override Task<bool> CollectionExistsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Exists());

    public override async Task EnsureCollectionExistsAsync(CancellationToken cancellationToken = default)
    {
        var wanted = Schema;
        if (!Exists())
        {
            try
            {
                await _engine.CreateCollectionAsync(wanted, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (AlreadyExistsException)
            {
                // created concurrently; fall through to the compatibility check
            }
            catch (RetrievalException e)
            {
                throw Wrap(e, "EnsureCollectionExists");
            }
        }
        var existing = _engine.Describe(Name).Schema;
        if (existing.Key != wanted.Key || existing.Dense != wanted.Dense || (existing.Sparse is null) != (wanted.Sparse is null))
            throw new VectorStoreException(
                $"collection '{Name}' exists with key {existing.Key}, dense {Describe(existing.Dense)}, sparse {existing.Sparse is not null}; " +
                $"the record type needs key {wanted.Key}, dense {Describe(wanted.Dense)}, sparse {wanted.Sparse is not null}")
            { VectorStoreSystemName = RetrievalVectorStore.SystemName, CollectionName = Name, OperationName = "EnsureCollectionExists" };
    }

    public override async Task EnsureCollectionDeletedAsync(CancellationToken cancellationToken = default)
    {
        if (!Exists()) return;
        try
        {
            await _engine.DropCollectionAsync(Name, cancellationToken).ConfigureAwait(false);
        }
        catch (RetrievalException e) when (e.Kind == ErrorKind.NotFound)
        {
            // dropped concurrently
        }
    }

    public override Task<TRecord?> GetAsync(TKey key, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        bool withVectors = options?.IncludeVectors == true;
        if (withVectors && _model.EmbeddingGenerationRequired)
            throw new NotSupportedException("IncludeVectors is not supported when the vector property is generated from another input (the input is not stored)");
        try
        {
            var stored = _engine.Get(Name, _mapper.Keys.ToEngine(key), withVectors, withPayload: true);
            return Task.FromResult(stored is null ? null : _mapper.FromEngine<TRecord>(stored.Key, stored.Payload, stored.Dense));
        }
        catch (RetrievalException e)
        {
            throw Wrap(e, "Get");
        }
    }

    /// <summary>Not supported: the engine answers by key or by similarity, and has no filtered scan.</summary>
    public override IAsyncEnumerable<TRecord> GetAsync(Expression<Func<TRecord, bool>> filter, int top,
        FilteredRecordRetrievalOptions<TRecord>? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("the engine has no filtered scan; search by vector with VectorSearchOptions.Filter, or get records by key");

    public override Task DeleteAsync(TKey key, CancellationToken cancellationToken = default) => DeleteAsync([key], cancellationToken);

    public override async Task DeleteAsync(IEnumerable<TKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var engineKeys = new List<RecordKey>();
        foreach (var key in keys) engineKeys.Add(_mapper.Keys.ToEngine(key));
        if (engineKeys.Count == 0) return;
        try
        {
            await _engine.DeleteAsync(Name, engineKeys, cancellationToken).ConfigureAwait(false);
        }
        catch (RetrievalException e)
        {
            throw Wrap(e, "Delete");
        }
    }

    public override Task UpsertAsync(TRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        return UpsertAsync([record], cancellationToken);
    }

    public override async Task UpsertAsync(IEnumerable<TRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var list = records as IReadOnlyList<TRecord> ?? [.. records];
        if (list.Count == 0) return;
        IReadOnlyList<Embedding>? generated = null;
        var vector = _mapper.Vector;
        if (vector is not null && !RetrievalModelBuilder.IsNativeVectorType(vector.Type))
        {
            var inputs = new object[list.Count];
            for (int i = 0; i < list.Count; i++)
                inputs[i] = vector.GetValueAsObject(list[i]) ?? throw new ArgumentException($"record {i}: vector input property '{vector.ModelName}' is null");
            generated = await vector.GenerateEmbeddingsAsync(inputs, cancellationToken).ConfigureAwait(false);
        }
        var engineRecords = new EngineRecord[list.Count];
        for (int i = 0; i < list.Count; i++)
        {
            var record = list[i] ?? throw new ArgumentException($"record {i} is null");
            if (_model.KeyProperty.IsAutoGenerated && _model.KeyProperty.GetValueAsObject(record) is Guid g && g == Guid.Empty)
                _model.KeyProperty.SetValueAsObject(record, Guid.NewGuid());
            // Not a conditional expression: null would convert to an empty ReadOnlyMemory through float[]'s implicit operator.
            ReadOnlyMemory<float>? embedding = null;
            if (generated is not null) embedding = ((Embedding<float>)generated[i]).Vector;
            engineRecords[i] = _mapper.ToEngine(record, embedding, _textEncoders);
        }
        try
        {
            await _engine.UpsertAsync(Name, engineRecords, cancellationToken).ConfigureAwait(false);
        }
        catch (RetrievalException e)
        {
            throw Wrap(e, "Upsert");
        }
    }

    public override async IAsyncEnumerable<VectorSearchResult<TRecord>> SearchAsync<TInput>(TInput searchValue, int top,
        VectorSearchOptions<TRecord>? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(searchValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        options ??= new VectorSearchOptions<TRecord>();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Skip);
        if (options.IncludeVectors && _model.EmbeddingGenerationRequired)
            throw new NotSupportedException("IncludeVectors is not supported when the vector property is generated from another input (the input is not stored)");
        SearchRequest request;
        if (_mapper.Vector is null)
        {
            // A text-only collection: the search value is the query text for the BM25 field.
            if (searchValue is not string text) throw new NotSupportedException($"collection '{Name}' has no vector property; search it with a string (BM25 over '{_mapper.FullText!.ModelName}')");
            request = new SearchRequest { Text = text, Mode = SearchMode.Sparse };
        }
        else
        {
            if (options.VectorProperty is not null) _model.GetVectorPropertyOrSingle(options);
            var vector = await ToVectorAsync(searchValue, cancellationToken).ConfigureAwait(false);
            request = new SearchRequest { Vector = vector, Mode = SearchMode.Dense };
        }
        var hits = Search(request, top, options.Skip, options.Filter, options.IncludeVectors, options.ScoreThreshold, hybrid: false);
        foreach (var hit in hits) yield return hit;
    }

    public async IAsyncEnumerable<VectorSearchResult<TRecord>> HybridSearchAsync<TInput>(TInput searchValue, ICollection<string> keywords, int top,
        HybridSearchOptions<TRecord>? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where TInput : notnull
    {
        ArgumentNullException.ThrowIfNull(searchValue);
        ArgumentNullException.ThrowIfNull(keywords);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        options ??= new HybridSearchOptions<TRecord>();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Skip);
        if (_mapper.Vector is null || !_textEncoders)
            throw new NotSupportedException(
                $"hybrid search needs a vector property and a full-text-indexed string property whose text the engine tokenizes, " +
                $"which the engine's text encoders allow for vectors of {Encoders.MiniLmEncoder.Dimension} dimensions (or none)");
        if (options.AdditionalProperty is not null) _model.GetFullTextDataPropertyOrSingle(options.AdditionalProperty);
        var vector = await ToVectorAsync(searchValue, cancellationToken).ConfigureAwait(false);
        string text = string.Join(' ', keywords);
        SearchRequest request = string.IsNullOrWhiteSpace(text)
            ? new SearchRequest { Vector = vector, Mode = SearchMode.Dense }
            : new SearchRequest { Vector = vector, Text = text, Mode = SearchMode.Hybrid, Fusion = FusionMethod.ReciprocalRank };
        var hits = Search(request, top, options.Skip, options.Filter, options.IncludeVectors, options.ScoreThreshold, hybrid: true);
        foreach (var hit in hits) yield return hit;
    }

    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(VectorStoreCollectionMetadata)) return _metadata;
        if (serviceType == typeof(RetrievalEngine)) return _engine;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    private bool Exists()
    {
        foreach (var info in _engine.ListCollections())
            if (info.Schema.Name == Name) return true;
        return false;
    }

    private async ValueTask<float[]> ToVectorAsync<TInput>(TInput searchValue, CancellationToken cancellationToken)
    {
        var property = _mapper.Vector!;
        float[] vector = searchValue switch
        {
            ReadOnlyMemory<float> m => m.ToArray(),
            float[] a => a,
            Embedding<float> e => e.Vector.ToArray(),
            _ when property.EmbeddingGenerator is IEmbeddingGenerator<TInput, Embedding<float>> generator =>
                (await generator.GenerateVectorAsync(searchValue, cancellationToken: cancellationToken).ConfigureAwait(false)).ToArray(),
            _ => throw new NotSupportedException(property.EmbeddingGenerator is null
                ? $"search input of type {typeof(TInput).Name} needs an embedding generator on vector property '{property.ModelName}'; pass ReadOnlyMemory<float>, float[] or Embedding<float>"
                : $"the embedding generator on vector property '{property.ModelName}' does not take {typeof(TInput).Name} input"),
        };
        if (vector.Length != property.Dimensions)
            throw new ArgumentException($"search vector has {vector.Length} dimensions, vector property '{property.ModelName}' has {property.Dimensions}");
        return vector;
    }

    /// <summary>
    /// Runs the engine search, widening the candidate count until <paramref name="skip"/> + <paramref name="top"/>
    /// records pass the filter or the collection (or the engine's k limit) is exhausted.
    /// </summary>
    private List<VectorSearchResult<TRecord>> Search(SearchRequest request, int top, int skip, Expression<Func<TRecord, bool>>? filter,
        bool includeVectors, double? threshold, bool hybrid)
    {
        long wanted = (long)skip + top;
        if (wanted > RetrievalEngine.MaxK) throw new ArgumentOutOfRangeException(nameof(top), $"skip + top is {wanted}; the engine returns at most {RetrievalEngine.MaxK} results");
        var predicate = filter?.Compile();
        int k = predicate is null ? (int)wanted : (int)Math.Min(RetrievalEngine.MaxK, Math.Max(wanted * 4, FirstFilterFetch));
        var results = new List<VectorSearchResult<TRecord>>(top);
        while (true)
        {
            IReadOnlyList<SearchHit> hits;
            try
            {
                hits = _engine.Search(Name, request with { K = k, WithPayload = true, Candidates = hybrid ? Math.Max(k, SearchRequest.DefaultHybridCandidates) : 0 });
            }
            catch (RetrievalException e)
            {
                throw Wrap(e, hybrid ? "HybridSearch" : "Search");
            }
            results.Clear();
            int passed = 0;
            bool belowThreshold = false;
            foreach (var hit in hits)
            {
                double score = hybrid || _distance is null ? hit.Score : _distance.Value.Convert(hit.Score);
                if (!(hybrid || _distance is null ? threshold is not double t || score >= t : _distance.Value.Passes(score, threshold)))
                {
                    belowThreshold = true;
                    break;
                }
                float[]? dense = null;
                if (includeVectors) dense = _engine.Get(Name, hit.Key, withVectors: true, withPayload: false)?.Dense;
                var record = _mapper.FromEngine<TRecord>(hit.Key, hit.Payload, dense);
                if (predicate is not null && !predicate(record)) continue;
                if (passed++ < skip) continue;
                results.Add(new VectorSearchResult<TRecord>(record, score));
                if (results.Count == top) return results;
            }
            // Done when the engine returned everything it has, a threshold cut the list, or k cannot grow.
            if (predicate is null || belowThreshold || hits.Count < k || k == RetrievalEngine.MaxK) return results;
            k = (int)Math.Min(RetrievalEngine.MaxK, (long)k * 4);
        }
    }

    private VectorStoreException Wrap(RetrievalException e, string operation) =>
        new(e.Message, e) { VectorStoreSystemName = RetrievalVectorStore.SystemName, VectorStoreName = _metadata.VectorStoreName, CollectionName = Name, OperationName = operation };

    private static string Describe(DenseFieldSchema? dense) => dense is null ? "none" : $"{dense.Dimension}-d {dense.Metric}";
}
