using Grpc.Core;
using Retrieval.Bench.Reporting;
using Retrieval.Index.Errors;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Query.Indexes;
using Retrieval.Service.Client;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Bench.Benchmarks.Engine;

/// <summary>What <see cref="EngineBenchmark"/> does to a collection, embedded or through a server, with integer keys and dense vectors.</summary>
internal interface IEngineTarget : IAsyncDisposable
{
    /// <summary>Creates the collection (dropping an old one of that name) with engine defaults for everything but dimension and metric.</summary>
    Task CreateAsync(string collection, int dimension, Metric metric);
    Task UpsertAsync(IReadOnlyList<long> keys, IReadOnlyList<float[]> vectors);
    Task DeleteAsync(IReadOnlyList<long> keys);
    /// <summary>From describe: background jobs queued or running, segments, and sealed segments served by SPANN.</summary>
    Task<(int Jobs, int Segments, int Indexed)> StateAsync();
    /// <summary>Keys of the top <paramref name="k"/>, best first, into <paramref name="keys"/>; returns how many.</summary>
    ValueTask<int> SearchAsync(float[] query, int k, long[] keys);
    /// <summary>Resident bytes of the process holding the engine, or null when unknown.</summary>
    long? ResidentBytes();
    /// <summary>Bytes under the data directory, or null when unknown.</summary>
    long? DiskBytes();
    /// <summary>The engine settings in use, for the `defaults` line.</summary>
    IReadOnlyList<ReportField> Defaults();
}

internal sealed class EmbeddedTarget(RetrievalEngine engine, string directory, bool deleteDirectory) : IEngineTarget
{
    private string _collection = "";

    public async Task CreateAsync(string collection, int dimension, Metric metric)
    {
        _collection = collection;
        if (engine.ListCollections().Any(c => c.Schema.Name == collection)) await engine.DropCollectionAsync(collection);
        await engine.CreateCollectionAsync(new CollectionSchema(collection, KeyKind.Integer, new DenseFieldSchema(dimension, metric)));
    }

    public async Task UpsertAsync(IReadOnlyList<long> keys, IReadOnlyList<float[]> vectors)
    {
        var records = new List<EngineRecord>(keys.Count);
        for (int i = 0; i < keys.Count; i++) records.Add(new EngineRecord(RecordKey.Of(keys[i]), vectors[i]));
        await engine.UpsertAsync(_collection, records);
    }

    public async Task DeleteAsync(IReadOnlyList<long> keys) =>
        await engine.DeleteAsync(_collection, keys.Select(RecordKey.Of).ToList());

    public Task<(int Jobs, int Segments, int Indexed)> StateAsync()
    {
        var info = engine.Describe(_collection);
        return Task.FromResult((info.BackgroundJobs, info.SegmentCount, info.IndexedSegments));
    }

    public ValueTask<int> SearchAsync(float[] query, int k, long[] keys)
    {
        var hits = engine.Search(_collection, new SearchRequest { Vector = query, K = k, Mode = SearchMode.Dense });
        int n = Math.Min(hits.Count, keys.Length);
        for (int i = 0; i < n; i++) keys[i] = hits[i].Key.Integer;
        return ValueTask.FromResult(n);
    }

    public long? ResidentBytes() => ProcessMemory.ResidentBytes();
    public long? DiskBytes() => EngineBenchmark.DirectoryBytes(directory);

    public IReadOnlyList<ReportField> Defaults()
    {
        var o = engine.Options;
        var schema = engine.Describe(_collection).Schema.Dense!;
        var index = schema.Index ?? DenseIndexOptions.Default;
        return
        [
            new("mode", "embedded"),
            new("seal_rows", o.SealRows),
            new("dense_index", index.Kind.ToString().ToLowerInvariant()),
            new("index_min_rows", index.MinRows),
            new("index_in_memory", index.InMemory),
            new("spann_storage", index.Build.Storage?.ToName()),
            new("in_place_updates", o.InPlaceUpdates),
            new("memory_limit_bytes", o.MemoryLimitBytes),
            new("spann_head_ratio", index.Build.HeadRatio),
            new("spann_search_heads", index.Search.Heads),
            new("auto_compact", o.AutoCompact),
            new("compact_tombstone_fraction", o.CompactTombstoneFraction),
            new("compact_max_segments", o.CompactMaxSegments),
        ];
    }

    public async ValueTask DisposeAsync()
    {
        await engine.DisposeAsync();
        if (deleteDirectory)
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }
}

internal sealed class ServerTarget(RetrievalClient client, string url, int? processId, string? dataDirectory) : IEngineTarget
{
    private string _collection = "";
    private V1.CollectionInfo? _created;

    public static async Task<ServerTarget> ConnectAsync(string url, string? apiKey, int? processId, string? dataDirectory)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new RetrievalException(ErrorKind.InvalidInput, $"--server expects a URL such as http://127.0.0.1:50051, got '{url}'");
        var client = new RetrievalClient(url, apiKey);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.ListAsync(timeout.Token);
        }
        catch (RpcException e)
        {
            client.Dispose();
            throw new RetrievalException(e.StatusCode == StatusCode.Unauthenticated ? ErrorKind.InvalidInput : ErrorKind.NotFound,
                $"cannot reach the server at {url}: {e.StatusCode} ({e.Status.Detail}); is `retrieval serve` running (and is --api-key right)?");
        }
        return new ServerTarget(client, url, processId, dataDirectory);
    }

    public async Task CreateAsync(string collection, int dimension, Metric metric)
    {
        _collection = collection;
        try { await client.DropAsync(collection); }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound) { }
        _created = await client.CreateAsync(new V1.CollectionSchema
        {
            Name = collection,
            KeyKind = V1.KeyKind.Integer,
            Dense = new V1.DenseField
            {
                Dimension = (uint)dimension,
                Metric = metric switch { Metric.L2 => V1.Metric.L2, Metric.InnerProduct => V1.Metric.InnerProduct, _ => V1.Metric.Cosine },
            },
        });
    }

    public async Task UpsertAsync(IReadOnlyList<long> keys, IReadOnlyList<float[]> vectors)
    {
        var request = new V1.UpsertRequest { Collection = _collection };
        for (int i = 0; i < keys.Count; i++)
        {
            var record = new V1.Record { Id = new V1.RecordId { Number = keys[i] } };
            record.Vector.Add(vectors[i]);
            request.Records.Add(record);
        }
        await client.UpsertAsync(request);
    }

    public async Task DeleteAsync(IReadOnlyList<long> keys)
    {
        var request = new V1.DeleteRequest { Collection = _collection };
        foreach (long key in keys) request.Ids.Add(new V1.RecordId { Number = key });
        await client.DeleteAsync(request);
    }

    public async Task<(int Jobs, int Segments, int Indexed)> StateAsync()
    {
        var info = await client.DescribeAsync(_collection);
        return ((int)info.BackgroundJobs, (int)info.SegmentCount, (int)info.IndexedSegments);
    }

    public async ValueTask<int> SearchAsync(float[] query, int k, long[] keys)
    {
        var q = new V1.Query { K = (uint)k, Mode = V1.SearchMode.Dense };
        q.Vector.Add(query);
        var response = await client.SearchAsync(_collection, q);
        int n = Math.Min(response.Hits.Count, keys.Length);
        for (int i = 0; i < n; i++) keys[i] = response.Hits[i].Id.Number;
        return n;
    }

    public long? ResidentBytes()
    {
        if (processId is not { } pid) return null;
        try
        {
            return ProcessMemory.TryParseStatusField(File.ReadAllText($"/proc/{pid}/status"), "VmRSS", out long bytes) ? bytes : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public long? DiskBytes() => dataDirectory is null ? null : EngineBenchmark.DirectoryBytes(dataDirectory);

    public IReadOnlyList<ReportField> Defaults()
    {
        var index = _created?.Schema.Dense?.Index;
        return
        [
            new("mode", "server"),
            new("server", url),
            new("seal_rows", null),
            new("dense_index", index?.Kind.ToString().ToLowerInvariant()),
            new("index_min_rows", index is null ? null : (int)index.MinRows),
        ];
    }

    public ValueTask DisposeAsync()
    {
        client.Dispose();
        return ValueTask.CompletedTask;
    }
}
