using System.Numerics.Tensors;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Retrieval.Service.Client;
using Retrieval.Service.Hosting;
using Retrieval.Service.Protocol;
using Retrieval.Tests.Attention;
using Retrieval.Tests.Support;

using KvCacheClient = Retrieval.Service.Protocol.KvCache.KvCacheClient;
using Tensor = Retrieval.Service.Protocol.Tensor;

namespace Retrieval.Tests.Service;
/// <summary>retrieval.v1.KvCache end to end: a real server on a loopback port, a real gRPC client.</summary>
public sealed class KvCacheServiceTests : IClassFixture<ServerFixture>
{
    private const int Dim = 16, Keys = 1500, Chunk = 250, Sink = 4, Window = 16;
    private readonly ServerFixture _f;

    public KvCacheServiceTests(ServerFixture fixture) => _f = fixture;

    private KvCacheClient Client => new(_f.Channel);

    private static SequenceShape Shape(uint kvHeads = 2, uint group = 2) => new()
    {
        Layers = 1,
        KvHeads = kvHeads,
        QueryHeadsPerKvHead = group,
        HeadDim = Dim,
        SinkTokens = Sink,
        WindowTokens = Window,
    };

    /// <summary>Keys/values rounded through float16 (what the server holds when sent as float16).</summary>
    private static float[] RoundHalf(float[] values)
    {
        var half = new Half[values.Length];
        TensorPrimitives.ConvertToHalf(values, half);
        var back = new float[values.Length];
        TensorPrimitives.ConvertToSingle(half, back);
        return back;
    }

    private static async Task Prefill(KvCacheClient client, ulong id, uint kvHead, float[] keys, float[] values, bool half)
    {
        // Chunks keep each message under the test server's 64 KiB limit; the first prefills, the rest append.
        for (int first = 0; first < Keys; first += Chunk)
        {
            var k = keys.AsSpan(first * Dim, Chunk * Dim);
            var v = values.AsSpan(first * Dim, Chunk * Dim);
            var reply = await client.PrefillKvAsync(new PrefillKvRequest
            {
                SequenceId = id,
                Layer = 0,
                KvHead = kvHead,
                Keys = half ? KvTensorMapping.FromFloatsAsHalf(k, Chunk) : KvTensorMapping.FromFloats(k, Chunk),
                Values = half ? KvTensorMapping.FromFloatsAsHalf(v, Chunk) : KvTensorMapping.FromFloats(v, Chunk),
            });
            Assert.Equal((uint)first, reply.FirstPosition);
            Assert.Equal((uint)(first + Chunk), reply.TokenCount);
        }
    }

    private static HeadRef Head(uint h) => new() { Layer = 0, Head = h };

    [Fact]
    public async Task CreatePrefillBuildSearchAttendAppendDescribeRelease()
    {
        var client = Client;
        var heads = new[] { new SyntheticHead(Keys, 1000, Dim, 11), new SyntheticHead(Keys, 1000, Dim, 12) };
        var created = await client.CreateSequenceAsync(new CreateSequenceRequest { Shape = Shape() });
        ulong id = created.SequenceId;
        Assert.Equal(2u, created.Shape.QueryHeadsPerKvHead);

        // KV head 0 as float16, KV head 1 as float32.
        await Prefill(client, id, 0, heads[0].Keys, heads[0].Values, half: true);
        await Prefill(client, id, 1, heads[1].Keys, heads[1].Values, half: false);
        var keys = new[] { RoundHalf(heads[0].Keys), heads[1].Keys };
        var values = new[] { RoundHalf(heads[0].Values), heads[1].Values };

        var build = new BuildHeadsRequest { SequenceId = id };
        for (uint h = 0; h < 4; h++)
        {
            var training = heads[h / 2].TrainingQueries.AsSpan(0, 500 * Dim);
            build.Heads.Add(new QueryHeadBuild { Head = Head(h), TrainingQueries = KvTensorMapping.FromFloatsAsHalf(training, 500) });
        }
        var built = await client.BuildHeadsAsync(build);
        Assert.Equal(4u, built.HeadsBuilt);
        Assert.True(built.MemoryBytes > 0);

        // One batched search over the 4 query heads (2 per KV head).
        const int k = 10;
        var search = new KvSearchRequest { SequenceId = id, K = k, Ef = 64 };
        var queries = new float[4 * Dim];
        for (uint h = 0; h < 4; h++)
        {
            search.Heads.Add(Head(h));
            heads[h / 2].TestQuery((int)h).CopyTo(queries.AsSpan((int)h * Dim));
        }
        search.Queries = KvTensorMapping.FromFloats(queries, 4);
        var hits = await client.SearchAsync(search);
        Assert.Equal(4, hits.Heads.Count);
        int found = 0;
        for (int h = 0; h < 4; h++)
        {
            var reply = hits.Heads[h];
            Assert.Equal(k, reply.Positions.Count);
            Assert.True(reply.KeysScored > 0);
            var exact = SyntheticHead.ExactTopK(keys[h / 2], Keys, Dim, queries.AsSpan(h * Dim, Dim), k, Sink, Keys - Window);
            foreach (int p in reply.Positions)
            {
                Assert.InRange(p, Sink, Keys - Window - 1); // the static part is the caller's
                if (exact.Contains(p)) found++;
            }
            for (int j = 1; j < k; j++) Assert.True(reply.Scores[j - 1] >= reply.Scores[j]);
            Assert.Equal(TensorPrimitives.Dot(queries.AsSpan(h * Dim, Dim), keys[h / 2].AsSpan(reply.Positions[0] * Dim, Dim)), reply.Scores[0], 4);
        }
        Assert.True(found >= 0.9 * 4 * k, $"recall@{k} over 4 heads: {found} of {4 * k}");

        // Attend = softmax over the same retrieved keys (same search, deterministic), scaled by 1/sqrt(d).
        var attended = await client.AttendAsync(search);
        float scale = 1f / MathF.Sqrt(Dim);
        for (int h = 0; h < 4; h++)
        {
            var positions = hits.Heads[h].Positions;
            var logits = positions.Select(p => hits.Heads[h].Scores[positions.IndexOf(p)] * scale).ToArray();
            float max = logits.Max();
            double sum = logits.Sum(l => Math.Exp(l - max));
            var expected = new double[Dim];
            for (int j = 0; j < positions.Count; j++)
            {
                double w = Math.Exp(logits[j] - max) / sum;
                for (int c = 0; c < Dim; c++) expected[c] += w * values[h / 2][positions[j] * Dim + c];
            }
            var reply = attended.Heads[h];
            Assert.Equal(Dim, reply.Output.Count);
            Assert.Equal(max + Math.Log(sum), reply.LogSumExp, 3);
            for (int c = 0; c < Dim; c++) Assert.Equal(expected[c], reply.Output[c], 4);
        }

        // Append: a key made for head 0's query is searchable once it leaves the caller's window.
        var strong = new float[2 * Dim];
        for (int c = 0; c < Dim; c++) strong[c] = queries[c] * 50;
        var step = await client.AppendAsync(new KvAppendRequest
        {
            SequenceId = id,
            Layer = 0,
            Keys = KvTensorMapping.FromFloats(strong, 2),
            Values = KvTensorMapping.FromFloats(new float[2 * Dim], 2),
        });
        Assert.Equal((uint)Keys, step.Position);
        var one = new KvSearchRequest { SequenceId = id, K = k, Ef = 64, Queries = KvTensorMapping.FromFloats(queries.AsSpan(0, Dim), 1) };
        one.Heads.Add(Head(0));
        Assert.DoesNotContain(Keys, (await client.SearchAsync(one)).Heads[0].Positions);
        for (int i = 0; i < Window; i++)
        {
            await client.AppendAsync(new KvAppendRequest
            {
                SequenceId = id,
                Layer = 0,
                Keys = KvTensorMapping.FromFloats(new float[2 * Dim], 2),
                Values = KvTensorMapping.FromFloats(new float[2 * Dim], 2),
            });
        }
        Assert.Equal(Keys, (await client.SearchAsync(one)).Heads[0].Positions[0]);

        var info = await client.DescribeSequenceAsync(new SequenceRequest { SequenceId = id });
        Assert.Equal(new uint[] { Keys + Window + 1, Keys + Window + 1 }, info.TokenCounts.ToArray());
        Assert.Equal(4u, info.BuiltHeads);
        Assert.True(info.MemoryBytes >= 2L * 2 * Keys * Dim * sizeof(float));
        Assert.True(info.CacheMemoryBytes >= info.MemoryBytes);

        var released = await client.ReleaseSequenceAsync(new SequenceRequest { SequenceId = id });
        Assert.True(released.FreedBytes >= info.MemoryBytes);
        var gone = await ServerFixture.Status(() => client.DescribeSequenceAsync(new SequenceRequest { SequenceId = id }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task QueryGuidedAppendsAreLinkedIntoTheGraphAtOnce()
    {
        var client = Client;
        var heads = new[] { new SyntheticHead(Keys, 1000, Dim, 21), new SyntheticHead(Keys, 1000, Dim, 22) };
        ulong id = (await client.CreateSequenceAsync(new CreateSequenceRequest { Shape = Shape() })).SequenceId;
        await Prefill(client, id, 0, heads[0].Keys, heads[0].Values, half: false);
        await Prefill(client, id, 1, heads[1].Keys, heads[1].Values, half: false);
        var build = new BuildHeadsRequest { SequenceId = id, Options = new KvBuildOptions { AppendMode = KvAppendMode.QueryGuided } };
        for (uint h = 0; h < 4; h++)
            build.Heads.Add(new QueryHeadBuild { Head = Head(h), TrainingQueries = KvTensorMapping.FromFloatsAsHalf(heads[h / 2].TrainingQueries.AsSpan(0, 500 * Dim), 500) });
        await client.BuildHeadsAsync(build);

        // The decoder's step: search with observe_queries, then append; the new key must be found through the graph
        // (query-guided mode has no exact buffer) once it leaves the caller's window.
        var query = heads[0].TestQuery(0).ToArray();
        var one = new KvSearchRequest { SequenceId = id, K = 10, Ef = 64, ObserveQueries = true, Queries = KvTensorMapping.FromFloats(query, 1) };
        one.Heads.Add(Head(0));
        await client.SearchAsync(one);
        var strong = new float[2 * Dim];
        for (int c = 0; c < Dim; c++) strong[c] = query[c] * 50;
        await client.AppendAsync(new KvAppendRequest { SequenceId = id, Layer = 0, Keys = KvTensorMapping.FromFloats(strong, 2), Values = KvTensorMapping.FromFloats(new float[2 * Dim], 2) });
        for (int i = 0; i < Window; i++)
            await client.AppendAsync(new KvAppendRequest { SequenceId = id, Layer = 0, Keys = KvTensorMapping.FromFloats(new float[2 * Dim], 2), Values = KvTensorMapping.FromFloats(new float[2 * Dim], 2) });
        one.ObserveQueries = false;
        Assert.Equal(Keys, (await client.SearchAsync(one)).Heads[0].Positions[0]);

        var badMode = new BuildHeadsRequest { SequenceId = id, Options = new KvBuildOptions { AppendMode = (KvAppendMode)7 } };
        badMode.Heads.Add(build.Heads[0]);
        var refused = await ServerFixture.Status(() => client.BuildHeadsAsync(badMode).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("options.append_mode 7 is unknown", refused.Status.Detail);
        await client.ReleaseSequenceAsync(new SequenceRequest { SequenceId = id });
    }

    [Fact]
    public async Task EveryBadRequestGetsItsStatusNamingTheField()
    {
        var client = Client;
        async Task<RpcException> Fails(Func<Task> call, StatusCode code, string text)
        {
            var e = await ServerFixture.Status(call);
            Assert.Equal(code, e.StatusCode);
            Assert.Contains(text, e.Status.Detail);
            return e;
        }

        await Fails(() => client.CreateSequenceAsync(new CreateSequenceRequest { Shape = Shape() }.WithLayers(0)).ResponseAsync, StatusCode.InvalidArgument, "shape.layers");
        await Fails(() => client.CreateSequenceAsync(new CreateSequenceRequest()).ResponseAsync, StatusCode.InvalidArgument, "shape is required");
        var wide = Shape();
        wide.HeadDim = 65;
        await Fails(() => client.CreateSequenceAsync(new CreateSequenceRequest { Shape = wide }).ResponseAsync, StatusCode.ResourceExhausted, "max_dimension 64");

        await Fails(() => client.DescribeSequenceAsync(new SequenceRequest { SequenceId = 999_999 }).ResponseAsync, StatusCode.NotFound, "sequence 999999");
        await Fails(() => client.ReleaseSequenceAsync(new SequenceRequest { SequenceId = 999_999 }).ResponseAsync, StatusCode.NotFound, "sequence 999999");

        ulong id = (await client.CreateSequenceAsync(new CreateSequenceRequest { Shape = Shape(kvHeads: 1, group: 1) })).SequenceId;
        var head = new SyntheticHead(300, 300, Dim, 5);
        var keys = KvTensorMapping.FromFloats(head.Keys, 300);
        var values = KvTensorMapping.FromFloats(head.Values, 300);
        var shortData = new Tensor { Type = TensorType.Float32, Rows = 300, Data = ByteString.CopyFrom(new byte[100]) };
        await Fails(() => client.PrefillKvAsync(new PrefillKvRequest { SequenceId = id, Keys = shortData, Values = values }).ResponseAsync, StatusCode.InvalidArgument, "keys.data holds 100 bytes");
        await Fails(() => client.PrefillKvAsync(new PrefillKvRequest { SequenceId = id, Keys = new Tensor { Rows = 300, Data = keys.Data }, Values = values }).ResponseAsync, StatusCode.InvalidArgument, "keys.type");
        await Fails(() => client.PrefillKvAsync(new PrefillKvRequest { SequenceId = id, Values = values }).ResponseAsync, StatusCode.InvalidArgument, "keys is required");
        await Fails(() => client.PrefillKvAsync(new PrefillKvRequest { SequenceId = id, Keys = keys, Values = KvTensorMapping.FromFloats(head.Values.AsSpan(0, 10 * Dim), 10) }).ResponseAsync, StatusCode.InvalidArgument, "values.rows is 10, expected 300");
        var nanKeys = (float[])head.Keys.Clone();
        nanKeys[7 * Dim + 3] = float.NaN;
        await Fails(() => client.PrefillKvAsync(new PrefillKvRequest { SequenceId = id, Keys = KvTensorMapping.FromFloats(nanKeys, 300), Values = values }).ResponseAsync, StatusCode.InvalidArgument, "NaN");
        await Fails(() => client.PrefillKvAsync(new PrefillKvRequest { SequenceId = id, KvHead = 3, Keys = keys, Values = values }).ResponseAsync, StatusCode.NotFound, "kv_head 3");
        await Fails(() => client.PrefillKvAsync(new PrefillKvRequest { SequenceId = 999_999, Keys = keys, Values = values }).ResponseAsync, StatusCode.NotFound, "sequence 999999");
        await client.PrefillKvAsync(new PrefillKvRequest { SequenceId = id, Keys = keys, Values = values });

        var search = new KvSearchRequest { SequenceId = id, K = 5, Queries = KvTensorMapping.FromFloats(head.TestQuery(0), 1) };
        search.Heads.Add(Head(0));
        await Fails(() => client.SearchAsync(search).ResponseAsync, StatusCode.NotFound, "has no index");

        var build = new BuildHeadsRequest { SequenceId = id };
        build.Heads.Add(new QueryHeadBuild { Head = Head(0), TrainingQueries = KvTensorMapping.FromFloats(head.TrainingQueries.AsSpan(0, 100 * Dim), 100) });
        var badBuild = build.Clone();
        badBuild.Options = new KvBuildOptions { Connectivity = 1 };
        await Fails(() => client.BuildHeadsAsync(badBuild).ResponseAsync, StatusCode.InvalidArgument, "options: Connectivity");
        var wrongHead = build.Clone();
        wrongHead.Heads[0].Head = Head(5);
        await Fails(() => client.BuildHeadsAsync(wrongHead).ResponseAsync, StatusCode.NotFound, "query head (layer 0, head 5)");
        await client.BuildHeadsAsync(build);
        Assert.Equal(5, (await client.SearchAsync(search)).Heads[0].Positions.Count);

        var bigK = search.Clone();
        bigK.K = 51;
        await Fails(() => client.SearchAsync(bigK).ResponseAsync, StatusCode.ResourceExhausted, "max_k 50");
        var zeroK = search.Clone();
        zeroK.K = 0;
        await Fails(() => client.SearchAsync(zeroK).ResponseAsync, StatusCode.InvalidArgument, "k must be >= 1");
        var manyHeads = search.Clone();
        for (int i = 0; i < 20; i++) manyHeads.Heads.Add(Head(0));
        await Fails(() => client.SearchAsync(manyHeads).ResponseAsync, StatusCode.ResourceExhausted, "heads has 21 entries");
        var wrongDim = search.Clone();
        wrongDim.Queries = KvTensorMapping.FromFloats(new float[Dim + 1], 1);
        await Fails(() => client.AttendAsync(wrongDim).ResponseAsync, StatusCode.InvalidArgument, "queries.data");
        var nanQuery = search.Clone();
        var q = head.TestQuery(0).ToArray();
        q[0] = float.NaN;
        nanQuery.Queries = KvTensorMapping.FromFloats(q, 1);
        await Fails(() => client.SearchAsync(nanQuery).ResponseAsync, StatusCode.InvalidArgument, "NaN");
        await Fails(() => client.AppendAsync(new KvAppendRequest { SequenceId = id, Layer = 2, Keys = KvTensorMapping.FromFloats(new float[Dim], 1), Values = KvTensorMapping.FromFloats(new float[Dim], 1) }).ResponseAsync, StatusCode.NotFound, "layer 2");
        await Fails(() => client.AppendAsync(new KvAppendRequest { SequenceId = id, Keys = KvTensorMapping.FromFloats(new float[2 * Dim], 2), Values = KvTensorMapping.FromFloats(new float[2 * Dim], 2) }).ResponseAsync, StatusCode.InvalidArgument, "keys.rows is 2, expected 1");

        // A static part (sink + window) larger than the sequence.
        var tinyShape = Shape(kvHeads: 1, group: 1);
        tinyShape.WindowTokens = 400;
        ulong tiny = (await client.CreateSequenceAsync(new CreateSequenceRequest { Shape = tinyShape })).SequenceId;
        await client.PrefillKvAsync(new PrefillKvRequest { SequenceId = tiny, Keys = keys, Values = values });
        var tinyBuild = build.Clone();
        tinyBuild.SequenceId = tiny;
        await client.BuildHeadsAsync(tinyBuild);
        var tinySearch = search.Clone();
        tinySearch.SequenceId = tiny;
        await Fails(() => client.SearchAsync(tinySearch).ResponseAsync, StatusCode.InvalidArgument, "static part larger than the sequence");

        await client.ReleaseSequenceAsync(new SequenceRequest { SequenceId = id });
        await client.ReleaseSequenceAsync(new SequenceRequest { SequenceId = tiny });
    }

    [Fact]
    public async Task KvMemoryLimitIsResourceExhausted()
    {
        var options = ServerFixture.Options(TestData.TempDirectory()) with
        {
            Limits = ServerFixture.TestLimits with { KvMemoryLimitBytes = 100_000 },
        };
        await using var server = await RetrievalServer.StartAsync(options);
        using var channel = GrpcChannel.ForAddress(server.Address);
        var client = new KvCacheClient(channel);
        ulong id = (await client.CreateSequenceAsync(new CreateSequenceRequest { Shape = Shape(kvHeads: 1, group: 1) })).SequenceId;
        var head = new SyntheticHead(1000, 10, Dim, 3);
        // 1000 x 16 x 4 bytes x (keys + values) = 128,000 bytes > 100,000.
        var e = await ServerFixture.Status(() => client.PrefillKvAsync(new PrefillKvRequest
        {
            SequenceId = id,
            Keys = KvTensorMapping.FromFloatsAsHalf(head.Keys, 1000),
            Values = KvTensorMapping.FromFloatsAsHalf(head.Values, 1000),
        }).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("limit", e.Status.Detail);
        var info = await client.DescribeSequenceAsync(new SequenceRequest { SequenceId = id });
        Assert.Equal(0u, info.TokenCounts[0]);
        Assert.Equal(100_000ul, info.CacheMemoryLimitBytes);
    }
}

internal static class KvRequestExtensions
{
    public static CreateSequenceRequest WithLayers(this CreateSequenceRequest request, uint layers)
    {
        request.Shape.Layers = layers;
        return request;
    }
}
