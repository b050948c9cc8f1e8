using Google.Protobuf;
using Grpc.Core;
using Retrieval.Query.Engine;
using Retrieval.Service.Hosting;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Service.Services;

/// <summary>retrieval.v1.Points over the engine: every write returns after its log commit.</summary>
public sealed class PointsService(RetrievalEngine engine, ServerOptions options) : V1.Points.PointsBase
{
    public override async Task<V1.UpsertResponse> Upsert(V1.UpsertRequest request, ServerCallContext context)
    {
        var records = ProtocolMapping.ToRecords(request.Records, options.Limits);
        int n = await engine.UpsertAsync(request.Collection, records, context.CancellationToken).ConfigureAwait(false);
        return new V1.UpsertResponse { Upserted = (ulong)n };
    }

    public override async Task<V1.UpsertResponse> UpsertStream(IAsyncStreamReader<V1.UpsertRequest> requestStream, ServerCallContext context)
    {
        ulong total = 0;
        while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            var request = requestStream.Current;
            var records = ProtocolMapping.ToRecords(request.Records, options.Limits);
            total += (ulong)await engine.UpsertAsync(request.Collection, records, context.CancellationToken).ConfigureAwait(false);
        }
        return new V1.UpsertResponse { Upserted = total };
    }

    public override async Task<V1.DeleteResponse> Delete(V1.DeleteRequest request, ServerCallContext context)
    {
        options.Limits.CheckBatch(request.Ids.Count, "ids");
        var keys = new List<RecordKey>(request.Ids.Count);
        for (int i = 0; i < request.Ids.Count; i++) keys.Add(ProtocolMapping.ToKey(request.Ids[i], $"ids[{i}]"));
        int deleted = await engine.DeleteAsync(request.Collection, keys, context.CancellationToken).ConfigureAwait(false);
        return new V1.DeleteResponse { Deleted = (ulong)deleted };
    }

    public override Task<V1.GetResponse> Get(V1.GetRequest request, ServerCallContext context)
    {
        options.Limits.CheckBatch(request.Ids.Count, "ids");
        var response = new V1.GetResponse();
        for (int i = 0; i < request.Ids.Count; i++)
        {
            var key = ProtocolMapping.ToKey(request.Ids[i], $"ids[{i}]");
            var stored = engine.Get(request.Collection, key, request.WithVectors, !request.WithoutPayload);
            var result = new V1.GetResult { Id = request.Ids[i], Found = stored is not null };
            if (stored is not null)
            {
                var record = new V1.Record { Id = request.Ids[i] };
                if (stored.Payload is not null) record.Payload = ByteString.CopyFrom(stored.Payload);
                if (stored.Dense is not null) record.Vector.Add(stored.Dense);
                if (stored.Sparse is not null) record.Sparse = ProtocolMapping.FromSparse(stored.Sparse);
                result.Record = record;
            }
            response.Results.Add(result);
        }
        return Task.FromResult(response);
    }
}
