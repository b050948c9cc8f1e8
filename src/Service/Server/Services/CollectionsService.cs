using Grpc.Core;
using Retrieval.Query.Engine;
using Retrieval.Service.Hosting;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Service.Services;

/// <summary>retrieval.v1.Collections over the engine.</summary>
public sealed class CollectionsService(RetrievalEngine engine, ServerOptions options) : V1.Collections.CollectionsBase
{
    public override async Task<V1.CollectionInfo> CreateCollection(V1.CreateCollectionRequest request, ServerCallContext context)
    {
        var schema = ProtocolMapping.ToSchema(request.Schema, options.Limits);
        var info = await engine.CreateCollectionAsync(schema, context.CancellationToken).ConfigureAwait(false);
        return ProtocolMapping.FromInfo(info);
    }

    public override async Task<V1.DropCollectionResponse> DropCollection(V1.DropCollectionRequest request, ServerCallContext context)
    {
        await engine.DropCollectionAsync(request.Name, context.CancellationToken).ConfigureAwait(false);
        return new V1.DropCollectionResponse();
    }

    public override Task<V1.ListCollectionsResponse> ListCollections(V1.ListCollectionsRequest request, ServerCallContext context)
    {
        var response = new V1.ListCollectionsResponse();
        foreach (var info in engine.ListCollections()) response.Collections.Add(ProtocolMapping.FromInfo(info));
        return Task.FromResult(response);
    }

    public override Task<V1.CollectionInfo> DescribeCollection(V1.DescribeCollectionRequest request, ServerCallContext context) =>
        Task.FromResult(ProtocolMapping.FromInfo(engine.Describe(request.Name)));

    public override async Task<V1.CompactCollectionResponse> CompactCollection(V1.CompactCollectionRequest request, ServerCallContext context)
    {
        int dropped = await engine.CompactAsync(request.Name, context.CancellationToken).ConfigureAwait(false);
        return new V1.CompactCollectionResponse { Compacted = dropped >= 0, DroppedRows = (ulong)Math.Max(0, dropped) };
    }

    public override async Task<V1.AttachSegmentResponse> AttachSegment(V1.AttachSegmentRequest request, ServerCallContext context)
    {
        static string? OrNull(string value) => string.IsNullOrEmpty(value) ? null : value;
        var result = await engine.AttachAsync(request.Name, new AttachRequest
        {
            DenseIndexDirectory = OrNull(request.DenseIndexDir),
            SparseIndexDirectory = OrNull(request.SparseIndexDir),
            IdsPath = OrNull(request.IdsPath),
            PayloadsPath = OrNull(request.PayloadsPath),
        }, context.CancellationToken).ConfigureAwait(false);
        return new V1.AttachSegmentResponse { Rows = (ulong)result.Rows, Replaced = (ulong)result.Replaced, Segment = result.Segment };
    }
}
