using Grpc.Core;
using Retrieval.Query.Engine;
using Retrieval.Service.Hosting;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Service.Services;

/// <summary>retrieval.v1.Search over the engine.</summary>
public sealed class SearchService(RetrievalEngine engine, ServerOptions options) : V1.Search.SearchBase
{
    public override Task<V1.SearchResponse> Search(V1.SearchRequest request, ServerCallContext context)
    {
        var query = ProtocolMapping.ToQuery(request.Query, options.Limits, "query");
        return Task.FromResult(ProtocolMapping.FromHits(engine.Search(request.Collection, query)));
    }

    public override Task<V1.SearchBatchResponse> SearchBatch(V1.SearchBatchRequest request, ServerCallContext context)
    {
        options.Limits.CheckBatch(request.Queries.Count, "queries");
        var queries = new List<Query.Engine.SearchRequest>(request.Queries.Count);
        for (int i = 0; i < request.Queries.Count; i++) queries.Add(ProtocolMapping.ToQuery(request.Queries[i], options.Limits, $"queries[{i}]"));
        var results = engine.SearchBatch(request.Collection, queries);
        var response = new V1.SearchBatchResponse();
        foreach (var hits in results) response.Results.Add(ProtocolMapping.FromHits(hits));
        return Task.FromResult(response);
    }
}
