#pragma warning disable MEVD9001 // provider-services model types are experimental in VectorData 10.x
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Retrieval.Index.Errors;
using Retrieval.Query.Engine;

namespace Retrieval.Query.VectorData;

/// <summary>Options of <see cref="RetrievalVectorStore"/>.</summary>
public sealed class RetrievalVectorStoreOptions
{
    /// <summary>
    /// Generates vectors for vector properties whose type is an input such as a string (and for searches given such
    /// input) when the property has no generator of its own; <see cref="MiniLmEmbeddingGenerator"/> runs locally.
    /// </summary>
    public IEmbeddingGenerator? EmbeddingGenerator { get; init; }

    /// <summary>Serialises data properties into the record's JSON payload (System.Text.Json defaults when null).</summary>
    public JsonSerializerOptions? JsonSerializerOptions { get; init; }
}

/// <summary>
/// The embedded engine as a Microsoft.Extensions.VectorData <see cref="VectorStore"/>: each VectorData collection is
/// an engine collection in the same data directory, durable and searchable the moment a write completes. The
/// engine stays owned by the caller unless <c>ownsEngine</c> is set.
/// </summary>
public sealed class RetrievalVectorStore : VectorStore
{
    public const string SystemName = "retrieval";

    private readonly RetrievalEngine _engine;
    private readonly bool _ownsEngine;
    private readonly RetrievalVectorStoreOptions _options;
    private readonly VectorStoreMetadata _metadata;

    public RetrievalVectorStore(RetrievalEngine engine, RetrievalVectorStoreOptions? options = null, bool ownsEngine = false)
    {
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        _options = options ?? new RetrievalVectorStoreOptions();
        _ownsEngine = ownsEngine;
        _metadata = new VectorStoreMetadata { VectorStoreSystemName = SystemName, VectorStoreName = Path.GetFileName(engine.DirectoryPath) };
    }

    /// <summary>Opens (creating if needed) an engine in <paramref name="directory"/> owned by the returned store.</summary>
    public static RetrievalVectorStore Open(string directory, RetrievalVectorStoreOptions? options = null, EngineOptions? engineOptions = null) =>
        new(RetrievalEngine.Open(directory, engineOptions), options, ownsEngine: true);

    public RetrievalEngine Engine => _engine;

    [RequiresUnreferencedCode("Maps records by reflection.")]
    [RequiresDynamicCode("Maps records by reflection.")]
    public override RetrievalVectorStoreCollection<TKey, TRecord> GetCollection<TKey, TRecord>(string name, VectorStoreCollectionDefinition? definition = null)
    {
        if (typeof(TRecord) == typeof(Dictionary<string, object?>))
            throw new NotSupportedException("use GetDynamicCollection for Dictionary<string, object?> records");
        var model = new RetrievalModelBuilder().Build(typeof(TRecord), typeof(TKey), definition, _options.EmbeddingGenerator);
        return new RetrievalVectorStoreCollection<TKey, TRecord>(_engine, name, model, _options);
    }

    [RequiresUnreferencedCode("Maps records by reflection.")]
    [RequiresDynamicCode("Maps records by reflection.")]
    public override RetrievalVectorStoreCollection<object, Dictionary<string, object?>> GetDynamicCollection(string name, VectorStoreCollectionDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var model = new RetrievalModelBuilder().BuildDynamic(definition, _options.EmbeddingGenerator);
        return new RetrievalVectorStoreCollection<object, Dictionary<string, object?>>(_engine, name, model, _options);
    }

    public override async IAsyncEnumerable<string> ListCollectionNamesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var info in _engine.ListCollections())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return info.Schema.Name;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    public override Task<bool> CollectionExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        foreach (var info in _engine.ListCollections())
            if (info.Schema.Name == name) return Task.FromResult(true);
        return Task.FromResult(false);
    }

    public override async Task EnsureCollectionDeletedAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            await _engine.DropCollectionAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (RetrievalException e) when (e.Kind == ErrorKind.NotFound)
        {
            // already gone
        }
    }

    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(VectorStoreMetadata)) return _metadata;
        if (serviceType == typeof(RetrievalEngine)) return _engine;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsEngine) _engine.Dispose();
        base.Dispose(disposing);
    }
}
