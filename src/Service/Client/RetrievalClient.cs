using Grpc.Core;
using Grpc.Net.Client;
using Retrieval.Index.Errors;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Service.Client;

/// <summary>
/// A retrieval.v1 client over one HTTP/2 channel, adding the API key (when given) to every call. Thread-safe; the
/// generated per-service clients are exposed for calls this wrapper does not cover.
/// </summary>
public sealed class RetrievalClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Metadata? _headers;

    public RetrievalClient(string serverUrl, string? apiKey = null, int maxMessageBytes = 16 * 1024 * 1024)
    {
        if (!Uri.TryCreate(serverUrl, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            throw new RetrievalException(ErrorKind.InvalidInput, $"server URL '{serverUrl}' is not an http:// or https:// URL (e.g. http://127.0.0.1:50051)");
        _channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = maxMessageBytes,
            MaxSendMessageSize = maxMessageBytes,
        });
        if (!string.IsNullOrEmpty(apiKey)) _headers = new Metadata { { ProtocolHeaders.ApiKey, apiKey } };
        Collections = new V1.Collections.CollectionsClient(_channel);
        Points = new V1.Points.PointsClient(_channel);
        Search = new V1.Search.SearchClient(_channel);
        KvCache = new V1.KvCache.KvCacheClient(_channel);
    }

    public V1.Collections.CollectionsClient Collections { get; }
    public V1.Points.PointsClient Points { get; }
    public V1.Search.SearchClient Search { get; }
    public V1.KvCache.KvCacheClient KvCache { get; }
    /// <summary>Headers to pass on each call (the API key), or null.</summary>
    public Metadata? Headers => _headers;

    public async Task<V1.CollectionInfo> CreateAsync(V1.CollectionSchema schema, CancellationToken ct = default) =>
        await Collections.CreateCollectionAsync(new V1.CreateCollectionRequest { Schema = schema }, _headers, cancellationToken: ct);

    public async Task DropAsync(string name, CancellationToken ct = default) =>
        await Collections.DropCollectionAsync(new V1.DropCollectionRequest { Name = name }, _headers, cancellationToken: ct);

    public async Task<V1.CollectionInfo> DescribeAsync(string name, CancellationToken ct = default) =>
        await Collections.DescribeCollectionAsync(new V1.DescribeCollectionRequest { Name = name }, _headers, cancellationToken: ct);

    public async Task<V1.CompactCollectionResponse> CompactAsync(string name, CancellationToken ct = default) =>
        await Collections.CompactCollectionAsync(new V1.CompactCollectionRequest { Name = name }, _headers, cancellationToken: ct);

    public async Task<V1.ListCollectionsResponse> ListAsync(CancellationToken ct = default) =>
        await Collections.ListCollectionsAsync(new V1.ListCollectionsRequest(), _headers, cancellationToken: ct);

    public async Task<ulong> UpsertAsync(V1.UpsertRequest request, CancellationToken ct = default) =>
        (await Points.UpsertAsync(request, _headers, cancellationToken: ct)).Upserted;

    /// <summary>Streams batches through one UpsertStream call; returns the server's count.</summary>
    public async Task<ulong> UpsertStreamAsync(IEnumerable<V1.UpsertRequest> batches, CancellationToken ct = default)
    {
        using var call = Points.UpsertStream(_headers, cancellationToken: ct);
        foreach (var batch in batches) await call.RequestStream.WriteAsync(batch, ct);
        await call.RequestStream.CompleteAsync();
        return (await call.ResponseAsync).Upserted;
    }

    public async Task<V1.GetResponse> GetAsync(V1.GetRequest request, CancellationToken ct = default) =>
        await Points.GetAsync(request, _headers, cancellationToken: ct);

    public async Task<ulong> DeleteAsync(V1.DeleteRequest request, CancellationToken ct = default) =>
        (await Points.DeleteAsync(request, _headers, cancellationToken: ct)).Deleted;

    public async Task<V1.SearchResponse> SearchAsync(string collection, V1.Query query, CancellationToken ct = default) =>
        await Search.SearchAsync(new V1.SearchRequest { Collection = collection, Query = query }, _headers, cancellationToken: ct);

    public void Dispose() => _channel.Dispose();
}
