using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Retrieval.Index.Errors;
using Retrieval.Service.Hosting;
using Retrieval.Service.Protocol;
using Retrieval.Tests.Support;
using Record = Retrieval.Service.Protocol.Record;

namespace Retrieval.Tests.Service;

using Query = Retrieval.Service.Protocol.Query;
using Search = Retrieval.Service.Protocol.Search;

/// <summary>End to end through the real server on a loopback port with a real gRPC client.</summary>
public sealed class ServiceEndToEndTests : IClassFixture<ServerFixture>
{
    private readonly ServerFixture _f;

    public ServiceEndToEndTests(ServerFixture fixture) => _f = fixture;

    private static CollectionSchema DenseSchema(string name, uint dims = 4, Metric metric = Metric.L2) => new()
    {
        Name = name,
        KeyKind = KeyKind.Integer,
        Dense = new DenseField { Dimension = dims, Metric = metric },
        Sparse = new SparseField { VocabularySize = 100 },
    };

    private static Record Point(long id, float[] vector, string? payload = null, uint[]? terms = null)
    {
        var r = new Record { Id = new RecordId { Number = id } };
        r.Vector.Add(vector);
        r.Sparse = new SparseVector();
        foreach (var t in terms ?? [1u]) { r.Sparse.Indices.Add(t); r.Sparse.Values.Add(1f); }
        if (payload is not null) r.Payload = ByteString.CopyFromUtf8(payload);
        return r;
    }

    [Fact]
    public async Task CollectionsLifecycleAndStatuses()
    {
        var info = await _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = DenseSchema("life") });
        Assert.Equal("life", info.Schema.Name);
        Assert.Equal(4u, info.Schema.Dense.Dimension);

        var exists = await ServerFixture.Status(() => _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = DenseSchema("life") }).ResponseAsync);
        Assert.Equal(StatusCode.AlreadyExists, exists.StatusCode);
        Assert.Contains("'life' already exists", exists.Status.Detail);

        var badDims = await ServerFixture.Status(() => _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = DenseSchema("x", dims: 0) }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badDims.StatusCode);
        Assert.Contains("dense.dimension", badDims.Status.Detail);

        var bigDims = await ServerFixture.Status(() => _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = DenseSchema("x", dims: 65) }).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, bigDims.StatusCode);
        Assert.Contains("schema.dense.dimension 65 exceeds the server's max_dimension 64", bigDims.Status.Detail);

        var noMetric = await ServerFixture.Status(() => _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = DenseSchema("x", metric: Metric.Unspecified) }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, noMetric.StatusCode);
        Assert.Contains("schema.dense.metric is required", noMetric.Status.Detail);

        var noSchema = await ServerFixture.Status(() => _f.Collections.CreateCollectionAsync(new CreateCollectionRequest()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, noSchema.StatusCode);
        Assert.Contains("schema is required", noSchema.Status.Detail);

        var list = await _f.Collections.ListCollectionsAsync(new ListCollectionsRequest());
        Assert.Contains(list.Collections, c => c.Schema.Name == "life");

        await _f.Collections.DropCollectionAsync(new DropCollectionRequest { Name = "life" });
        var gone = await ServerFixture.Status(() => _f.Collections.DescribeCollectionAsync(new DescribeCollectionRequest { Name = "life" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.Contains("collection 'life' does not exist", gone.Status.Detail);
    }

    [Fact]
    public async Task IndexSettingsTravelThroughTheSchema()
    {
        var schema = DenseSchema("indexed", dims: 8);
        schema.Dense.Index = new DenseIndex { Kind = DenseIndexKind.Spann, MinRows = 32, SearchHeads = 16, Storage = SpannStorage.Float16 };
        schema.Sparse.Index = new SparseIndex { Kind = SparseIndexKind.Exact };
        var info = await _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = schema });
        Assert.Equal((DenseIndexKind.Spann, 32u, 16u, SpannStorage.Float16), (info.Schema.Dense.Index.Kind, info.Schema.Dense.Index.MinRows, info.Schema.Dense.Index.SearchHeads, info.Schema.Dense.Index.Storage));
        Assert.Equal(0.6, info.Schema.Dense.Index.PruneEpsilon, 6); // unset: the engine's default
        Assert.Equal(SparseIndexKind.Exact, info.Schema.Sparse.Index.Kind);

        // The fixture seals every 64 rows: 200 rows give three sealed segments of 64 >= 32 rows, each SPANN-indexed.
        var random = new Random(5);
        for (int start = 0; start < 200; start += 20) // the fixture's max_batch
        {
            var upsert = new UpsertRequest { Collection = "indexed" };
            for (int i = start; i < start + 20; i++)
                upsert.Records.Add(Point(i, Enumerable.Range(0, 8).Select(_ => (float)random.NextDouble()).ToArray()));
            await _f.Points.UpsertAsync(upsert);
        }
        CollectionInfo described = await _f.Collections.DescribeCollectionAsync(new DescribeCollectionRequest { Name = "indexed" });
        for (int wait = 0; wait < 100 && described.IndexedSegments < 3; wait++)
        {
            await Task.Delay(100); // segment indexes build in the background
            described = await _f.Collections.DescribeCollectionAsync(new DescribeCollectionRequest { Name = "indexed" });
        }
        Assert.Equal(3u, described.IndexedSegments);
        Assert.Equal(0u, described.AttachedSegments);

        var badHeads = DenseSchema("bad-index");
        badHeads.Dense.Index = new DenseIndex { SearchHeads = 0 };
        var refused = await ServerFixture.Status(() => _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = badHeads }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("dense.index.search_heads", refused.Status.Detail);
        var badKind = DenseSchema("bad-kind");
        badKind.Sparse.Index = new SparseIndex { Kind = (SparseIndexKind)9 };
        refused = await ServerFixture.Status(() => _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = badKind }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("schema.sparse.index.kind 9 is unknown", refused.Status.Detail);
        var badGrowth = DenseSchema("bad-growth");
        badGrowth.Sparse.Index = new SparseIndex { HeapFactorGrowth = -0.5f };
        refused = await ServerFixture.Status(() => _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = badGrowth }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("HeapFactorGrowth", refused.Status.Detail);
        var growth = DenseSchema("growth");
        growth.Sparse.Index = new SparseIndex { QueryCut = 8, HeapFactor = 0.6f, HeapFactorGrowth = 0.1f, KnnNeighbours = 6 };
        await _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = growth });
        var growthSchema = await _f.Collections.DescribeCollectionAsync(new DescribeCollectionRequest { Name = "growth" });
        Assert.Equal(0.1f, growthSchema.Schema.Sparse.Index.HeapFactorGrowth);
        Assert.Equal(6u, growthSchema.Schema.Sparse.Index.KnnNeighbours);
        var badGraph = DenseSchema("bad-graph");
        badGraph.Sparse.Index = new SparseIndex { KnnNeighbours = 100_000 };
        refused = await ServerFixture.Status(() => _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = badGraph }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("KnnNeighbours", refused.Status.Detail);
    }

    [Fact]
    public async Task PointsAndSearch()
    {
        await _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = DenseSchema("pts") });
        var upsert = new UpsertRequest { Collection = "pts" };
        upsert.Records.Add(Point(1, [0, 0, 0, 0], "{\"name\":\"origin\"}", [1, 2]));
        upsert.Records.Add(Point(2, [1, 0, 0, 0], "{\"name\":\"x\"}", [2]));
        upsert.Records.Add(Point(3, [5, 5, 5, 5], null, [3]));
        Assert.Equal(3ul, (await _f.Points.UpsertAsync(upsert)).Upserted);

        // Streaming bulk upsert: three messages, counted together.
        using (var stream = _f.Points.UpsertStream())
        {
            for (int m = 0; m < 3; m++)
            {
                var request = new UpsertRequest { Collection = "pts" };
                for (int i = 0; i < 5; i++) request.Records.Add(Point(100 + m * 5 + i, [10 + m, i, 0, 0]));
                await stream.RequestStream.WriteAsync(request);
            }
            await stream.RequestStream.CompleteAsync();
            Assert.Equal(15ul, (await stream.ResponseAsync).Upserted);
        }
        Assert.Equal(18ul, (await _f.Collections.DescribeCollectionAsync(new DescribeCollectionRequest { Name = "pts" })).RecordCount);

        var query = new Query { K = 2, WithPayload = true, Mode = SearchMode.Dense };
        query.Vector.Add([0.1f, 0, 0, 0]);
        var found = await _f.Search.SearchAsync(new SearchRequest { Collection = "pts", Query = query });
        Assert.Equal([1L, 2L], found.Hits.Select(h => h.Id.Number).ToArray());
        Assert.Equal(0.01f, found.Hits[0].Score, 1e-6f);
        Assert.Equal("{\"name\":\"origin\"}", found.Hits[0].Payload.ToStringUtf8());

        var sparse = new Query { K = 5, Mode = SearchMode.Sparse, Sparse = new SparseVector { Indices = { 2 }, Values = { 1f } } };
        var sparseHits = await _f.Search.SearchAsync(new SearchRequest { Collection = "pts", Query = sparse });
        Assert.Equal([1L, 2L], sparseHits.Hits.Select(h => h.Id.Number).OrderBy(x => x).ToArray());

        var hybrid = new Query { K = 3, Sparse = new SparseVector { Indices = { 3 }, Values = { 1f } } };
        hybrid.Vector.Add([5, 5, 5, 4]);
        var hybridHits = await _f.Search.SearchAsync(new SearchRequest { Collection = "pts", Query = hybrid });
        Assert.Equal(3L, hybridHits.Hits[0].Id.Number); // first in both lists

        var batch = new SearchBatchRequest { Collection = "pts" };
        batch.Queries.Add(query);
        batch.Queries.Add(new Query { K = 1, Mode = SearchMode.Dense, Vector = { 12, 4, 0, 0 } });
        var batchResult = await _f.Search.SearchBatchAsync(batch);
        Assert.Equal(1L, batchResult.Results[0].Hits[0].Id.Number);
        Assert.Equal(114L, batchResult.Results[1].Hits[0].Id.Number);

        var get = await _f.Points.GetAsync(new GetRequest { Collection = "pts", Ids = { new RecordId { Number = 2 }, new RecordId { Number = 999 } }, WithVectors = true });
        Assert.True(get.Results[0].Found);
        Assert.Equal([1f, 0, 0, 0], get.Results[0].Record.Vector.ToArray());
        Assert.Equal("{\"name\":\"x\"}", get.Results[0].Record.Payload.ToStringUtf8());
        Assert.False(get.Results[1].Found);

        var deleted = await _f.Points.DeleteAsync(new DeleteRequest { Collection = "pts", Ids = { new RecordId { Number = 1 }, new RecordId { Number = 12345 } } });
        Assert.Equal(1ul, deleted.Deleted);
        found = await _f.Search.SearchAsync(new SearchRequest { Collection = "pts", Query = query });
        Assert.Equal(2L, found.Hits[0].Id.Number);
    }

    [Fact]
    public async Task BadRequestsGetTheRightStatusNamingTheField()
    {
        await _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = DenseSchema("bad") });
        async Task<RpcException> SearchFails(Query q, string collection = "bad") =>
            await ServerFixture.Status(() => _f.Search.SearchAsync(new SearchRequest { Collection = collection, Query = q }).ResponseAsync);

        var bigK = await SearchFails(new Query { K = 51, Vector = { 1, 2, 3, 4 } });
        Assert.Equal(StatusCode.ResourceExhausted, bigK.StatusCode);
        Assert.Contains("query.k = 51 exceeds the server's max_k 50", bigK.Status.Detail);

        var dims = await SearchFails(new Query { Vector = { 1, 2, 3 } });
        Assert.Equal(StatusCode.InvalidArgument, dims.StatusCode);
        Assert.Contains("query.vector has 3 dimensions, collection 'bad' expects 4", dims.Status.Detail);

        var nan = await SearchFails(new Query { Vector = { 1, float.NaN, 3, 4 } });
        Assert.Equal(StatusCode.InvalidArgument, nan.StatusCode);
        Assert.Contains("query.vector[1] is NaN", nan.Status.Detail);

        var missing = await SearchFails(new Query { Vector = { 1, 2, 3, 4 } }, collection: "nope");
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Contains("collection 'nope' does not exist", missing.Status.Detail);

        var oversizedVector = await SearchFails(new Query { Vector = { new float[65] } });
        Assert.Equal(StatusCode.ResourceExhausted, oversizedVector.StatusCode);

        var tooMany = new UpsertRequest { Collection = "bad" };
        for (int i = 0; i < 21; i++) tooMany.Records.Add(Point(i, [1, 2, 3, 4]));
        var batch = await ServerFixture.Status(() => _f.Points.UpsertAsync(tooMany).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, batch.StatusCode);
        Assert.Contains("records has 21 entries, the server's max_batch is 20", batch.Status.Detail);

        var noId = new UpsertRequest { Collection = "bad", Records = { new Record { Vector = { 1, 2, 3, 4 } } } };
        var idStatus = await ServerFixture.Status(() => _f.Points.UpsertAsync(noId).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, idStatus.StatusCode);
        Assert.Contains("records[0].id is required", idStatus.Status.Detail);

        var wrongKey = new UpsertRequest { Collection = "bad", Records = { new Record { Id = new RecordId { Text = "s" }, Vector = { 1, 2, 3, 4 } } } };
        var keyStatus = await ServerFixture.Status(() => _f.Points.UpsertAsync(wrongKey).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, keyStatus.StatusCode);
        Assert.Contains("is a string key", keyStatus.Status.Detail);

        // Larger than the server's 64 KiB message limit: refused by gRPC itself.
        var huge = new UpsertRequest { Collection = "bad" };
        huge.Records.Add(Point(1, [1, 2, 3, 4], "\"" + new string('a', 70_000) + "\""));
        var size = await ServerFixture.Status(() => _f.Points.UpsertAsync(huge).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, size.StatusCode);

        var badBatch = new SearchBatchRequest { Collection = "bad", Queries = { new Query { Vector = { 1, 2, 3, 4 } }, new Query { Vector = { 1 } } } };
        var batchStatus = await ServerFixture.Status(() => _f.Search.SearchBatchAsync(badBatch).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, batchStatus.StatusCode);
        Assert.Contains("queries[1].vector has 1 dimensions", batchStatus.Status.Detail);
    }

    /// <summary>Random bytes as a protobuf body, and random field values: always a status, and the server keeps serving.</summary>
    [Fact]
    public async Task FuzzedRequestsGetStatusesAndTheServerSurvives()
    {
        await _f.Collections.CreateCollectionAsync(new CreateCollectionRequest { Schema = DenseSchema("fuzz") });
        var raw = new Method<byte[], byte[]>(MethodType.Unary, "retrieval.v1.Search", "Search",
            Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        var invoker = _f.Channel.CreateCallInvoker();
        var random = new Random(11);
        int statuses = 0;
        for (int i = 0; i < 50; i++)
        {
            var body = new byte[random.Next(1, 200)];
            random.NextBytes(body);
            try
            {
                await invoker.AsyncUnaryCall(raw, null, new CallOptions(), body);
            }
            catch (RpcException e)
            {
                Assert.NotEqual(StatusCode.Unavailable, e.StatusCode);
                statuses++;
            }
        }
        Assert.True(statuses > 0);

        for (int i = 0; i < 100; i++)
        {
            var q = new Query { K = (uint)random.Next(0, 80), Mode = (SearchMode)random.Next(0, 5), Fusion = (Fusion)random.Next(0, 3) };
            int dims = random.Next(0, 8);
            for (int d = 0; d < dims; d++) q.Vector.Add(random.Next(10) == 0 ? float.PositiveInfinity : (float)random.NextDouble());
            if (random.Next(2) == 0) q.Sparse = new SparseVector { Indices = { (uint)random.Next(0, 200) }, Values = { (float)random.NextDouble() } };
            try
            {
                await _f.Search.SearchAsync(new SearchRequest { Collection = random.Next(4) == 0 ? "zz" : "fuzz", Query = q });
            }
            catch (RpcException e)
            {
                Assert.Contains(e.StatusCode, new[] { StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.ResourceExhausted });
            }
        }
        var health = await new Health.HealthClient(_f.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    [Fact]
    public async Task HealthAndReflection()
    {
        var health = await new Health.HealthClient(_f.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(_f.Channel);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToArray();
        Assert.Contains("retrieval.v1.Search", services);
        Assert.Contains("retrieval.v1.Points", services);
        Assert.Contains("retrieval.v1.Collections", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }
}

public sealed class ServiceSecurityAndLifecycleTests
{
    [Fact]
    public async Task ApiKeyIsCheckedOnEveryCall()
    {
        await using var server = await RetrievalServer.StartAsync(ServerFixture.Options(TestData.TempDirectory(), apiKey: "secret-key-123"));
        using var channel = GrpcChannel.ForAddress(server.Address);
        var client = new Collections.CollectionsClient(channel);

        var none = await ServerFixture.Status(() => client.ListCollectionsAsync(new ListCollectionsRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, none.StatusCode);
        Assert.Contains("x-api-key", none.Status.Detail);
        var wrong = await ServerFixture.Status(() => client.ListCollectionsAsync(new ListCollectionsRequest(), new Metadata { { "x-api-key", "wrong-key-123" } }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        var health = await ServerFixture.Status(() => new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, health.StatusCode);

        await client.ListCollectionsAsync(new ListCollectionsRequest(), new Metadata { { "x-api-key", "secret-key-123" } });
        await client.ListCollectionsAsync(new ListCollectionsRequest(), new Metadata { { "authorization", "Bearer secret-key-123" } });
    }

    [Fact]
    public async Task NonLoopbackBindNeedsAnApiKey()
    {
        var e = await Assert.ThrowsAsync<RetrievalException>(() =>
            RetrievalServer.StartAsync(ServerFixture.Options(TestData.TempDirectory()) with { Bind = "0.0.0.0" }));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("refusing to bind non-loopback address 0.0.0.0 without an API key", e.Message);
        var bad = await Assert.ThrowsAsync<RetrievalException>(() =>
            RetrievalServer.StartAsync(ServerFixture.Options(TestData.TempDirectory()) with { Bind = "not-an-ip" }));
        Assert.Contains("is not an IP address", bad.Message);
    }

    /// <summary>Graceful shutdown then restart on the same directory: acknowledged writes are all there.</summary>
    [Fact]
    public async Task RestartKeepsAcknowledgedWrites()
    {
        var dir = TestData.TempDirectory();
        await using (var server = await RetrievalServer.StartAsync(ServerFixture.Options(dir)))
        {
            using var channel = GrpcChannel.ForAddress(server.Address);
            await new Collections.CollectionsClient(channel).CreateCollectionAsync(new CreateCollectionRequest
            {
                Schema = new CollectionSchema { Name = "keep", Sparse = new SparseField { VocabularySize = 10 }, PayloadKind = PayloadKind.Bytes },
            });
            var upsert = new UpsertRequest { Collection = "keep" };
            for (int i = 0; i < 10; i++)
                upsert.Records.Add(new Record { Id = new RecordId { Text = $"r{i}" }, Sparse = new SparseVector { Indices = { (uint)i }, Values = { 1 } }, Payload = ByteString.CopyFrom((byte)i) });
            await new Points.PointsClient(channel).UpsertAsync(upsert);
        }
        await using (var again = await RetrievalServer.StartAsync(ServerFixture.Options(dir)))
        {
            using var channel = GrpcChannel.ForAddress(again.Address);
            var info = await new Collections.CollectionsClient(channel).DescribeCollectionAsync(new DescribeCollectionRequest { Name = "keep" });
            Assert.Equal(10ul, info.RecordCount);
            var hit = await new Search.SearchClient(channel).SearchAsync(new SearchRequest
            {
                Collection = "keep",
                Query = new Query { Sparse = new SparseVector { Indices = { 7 }, Values = { 2 } }, WithPayload = true },
            });
            Assert.Equal("r7", hit.Hits.Single().Id.Text);
            Assert.Equal(7, hit.Hits[0].Payload[0]);
        }
    }
}
