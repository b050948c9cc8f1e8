using Retrieval.Bench.Evaluation;
using Retrieval.Query.Encoders;
using Retrieval.Query.Engine;
using Retrieval.Service.Hosting;
using Retrieval.Tests.Engine;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Service;

/// <summary>
/// BEIR evaluation through the engine's own path: a 200-document SciFact slice goes through a real loopback server
/// (vectors + text upserted, text queries searched dense / sparse / hybrid), and the hybrid list is checked to be
/// the RRF fusion of the dense and sparse lists the same server returns.
/// </summary>
public sealed class HybridEvaluationTests
{
    private static ServerOptions ServerFor(string data) => new()
    {
        DataDirectory = data,
        Port = 0,
        Limits = ServiceLimits.Default with { MaxBatch = 64 },
        Engine = EngineTestSupport.Small(sealRows: 128) with { EncoderThreads = 0 },
        LogLevel = Microsoft.Extensions.Logging.LogLevel.None,
    };

    [SkippableFact]
    public async Task SciFactSliceThroughTheServerScoresEveryModeAndFusesByRrf()
    {
        var scifact = TestData.SharedDataset("scifact");
        await using var server = await RetrievalServer.StartAsync(ServerFor(TestData.TempDirectory()));
        await using var target = new ServerEvalTarget(server.Address.ToString(), batchSize: 64);
        var searches = new List<EvalSearch>(BeirEngineEvaluationOptions.DefaultSearches)
        {
            new("hybrid-weighted", SearchMode.Hybrid, FusionMethod.WeightedScore),
        };
        var result = await BeirEngineEvaluation.RunAsync(scifact, target, new BeirEngineEvaluationOptions
        {
            DocumentLimit = 200,
            Searches = searches,
            CollectionName = "scifact-slice",
            KeepCollection = true,
        });

        Assert.Equal(200, result.DocumentCount);
        Assert.False(result.DenseFromCache);
        Assert.InRange(result.QueryCount, 3, 300);
        Assert.Equal(["dense", "sparse", "hybrid-rrf", "hybrid-weighted"], result.Searches.Select(s => s.Search.Name));
        foreach (var s in result.Searches)
        {
            // Every judged query's relevant documents are among the 200, so 100 results hold most of them.
            Assert.InRange(s.NdcgAt10, 0.3, 1.0);
            Assert.InRange(s.RecallAt100, 0.6, 1.0);
        }

        // The hybrid list is the RRF (k = 60) of the dense and sparse top-100 lists of the same server.
        using var client = new Retrieval.Service.Client.RetrievalClient(server.Address.ToString());
        var describe = await client.DescribeAsync("scifact-slice");
        Assert.Equal(200ul, describe.RecordCount);
        string[] queries = ["0-dimensional biomaterials show inductive properties.", "Vitamin D deficiency affects bone health."];
        var dense = await target.SearchAsync("scifact-slice", queries, new EvalSearch("d", SearchMode.Dense), 100, default);
        var sparse = await target.SearchAsync("scifact-slice", queries, new EvalSearch("s", SearchMode.Sparse), 100, default);
        var hybrid = await target.SearchAsync("scifact-slice", queries, new EvalSearch("h", SearchMode.Hybrid), 10, default);
        for (int q = 0; q < queries.Length; q++)
        {
            Assert.Equal(100, dense[q].Length);
            Assert.True(sparse[q].Length > 0);
            var fused = Rrf(dense[q], sparse[q], 60);
            Assert.Equal(10, hybrid[q].Length);
            // Equal fused scores may come in another order (the engine breaks ties by row), so check by score:
            // each hit is at least as good as the 10th best, and the hits come in non-increasing score order.
            double tenth = fused.Values.OrderByDescending(v => v).ElementAt(9);
            for (int i = 0; i < 10; i++)
            {
                Assert.True(fused[hybrid[q][i]] >= tenth - 1e-6, $"hit {i} {hybrid[q][i]} scores {fused[hybrid[q][i]]} < 10th {tenth}");
                if (i > 0) Assert.True(fused[hybrid[q][i]] <= fused[hybrid[q][i - 1]] + 1e-6);
            }
        }
    }

    [Fact]
    public void DenseCacheIsWrittenReusedAndRefusedForAnotherCorpus()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "sub", "cache.npy");
        string[] texts = ["aspirin relieves headaches", "vitamin c and colds", "coffee and sleep"];
        using var encoder = new MiniLmEncoder(MiniLmOptions.Default with { Threads = 1 });

        var first = DenseDocumentCache.LoadOrEncode(path, texts, encoder, null, out bool fromCache);
        Assert.False(fromCache);
        Assert.True(File.Exists(path));
        var second = DenseDocumentCache.LoadOrEncode(path, texts, encoder, null, out fromCache);
        Assert.True(fromCache);
        Assert.Equal(first.Float32Row(2).ToArray(), second.Float32Row(2).ToArray());

        var reordered = new[] { texts[2], texts[1], texts[0] };
        var e = Assert.Throws<Retrieval.Index.Errors.RetrievalException>(() => DenseDocumentCache.LoadOrEncode(path, reordered, encoder, null, out _));
        Assert.Contains("another corpus or order", e.Message);
        e = Assert.Throws<Retrieval.Index.Errors.RetrievalException>(() => DenseDocumentCache.LoadOrEncode(path, texts[..2], encoder, null, out _));
        Assert.Contains("3 x 384", e.Message);
    }

    private static Dictionary<string, double> Rrf(string[] dense, string[] sparse, int constant)
    {
        var scores = new Dictionary<string, double>();
        for (int i = 0; i < dense.Length; i++) scores[dense[i]] = scores.GetValueOrDefault(dense[i]) + 1.0 / (constant + i + 1);
        for (int i = 0; i < sparse.Length; i++) scores[sparse[i]] = scores.GetValueOrDefault(sparse[i]) + 1.0 / (constant + i + 1);
        return scores;
    }
}
