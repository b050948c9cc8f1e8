using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

public class SpannSearchTests(Xunit.Abstractions.ITestOutputHelper output)
{
    public static TheoryData<Metric, SpannStorage> ExactCases() => new()
    {
        { Metric.L2, SpannStorage.Float32 },
        { Metric.InnerProduct, SpannStorage.Float32 },
        { Metric.Cosine, SpannStorage.Float32 },
        { Metric.Cosine, SpannStorage.Float16 },
        { Metric.L2, SpannStorage.Int8 },
        { Metric.Cosine, SpannStorage.Int8 },
    };

    /// <summary>With every head probed and no pruning, SPANN reads every posting, so it must return exact search's answer.</summary>
    [Theory]
    [MemberData(nameof(ExactCases))]
    public void PruningDisabledAndAllHeadsProbedEqualsExactSearch(Metric metric, SpannStorage storage)
    {
        var vectors = SpannTestData.RandomFloat(seed: 7, n: 1500, d: 24);
        var queries = SpannTestData.RandomFloat(seed: 8, n: 40, d: 24);
        using var index = SpannTestData.BuildAndOpen(vectors, new SpannBuildOptions { Metric = metric, Storage = storage, HeadRatio = 0.05 }, out _);
        int k = 10;
        // Int8 re-ranks k * RerankFactor candidates exactly; with a factor covering every vector the result is exact too.
        var all = new SpannSearchParameters
        {
            Heads = index.Heads.Count,
            PruneEpsilon = -1,
            SearchBeamWidth = index.Heads.Count,
            RerankFactor = storage == SpannStorage.Int8 ? vectors.Count / k : 1,
        };
        var exact = SpannTestData.Exact(vectors, queries, metric, k);
        foreach (var io in new[] { PostingIoMode.Buffered, PostingIoMode.Memory, PostingIoMode.Direct })
        {
            var found = index.Search(queries, k, all with { Io = io }, threads: 2);
            Assert.Equal(exact.Ids, found.Ids);
            for (int i = 0; i < exact.Scores.Length; i++)
                Assert.True(MathF.Abs(exact.Scores[i] - found.Scores[i]) <= 1e-4f * Math.Max(1, MathF.Abs(exact.Scores[i])), $"score {i}: {found.Scores[i]} vs {exact.Scores[i]}");
        }
    }

    /// <summary>
    /// Recall on the tiny-dense fixture (2,000 bigann rows, L2, 50 held-out queries). Measured 1.0 at the
    /// default M = 64; the floor 0.9 leaves room for build changes, not for a broken search.
    /// </summary>
    [Fact]
    public void RecallOnTinyDenseFixture()
    {
        var vectors = SpannTestData.TinyBase();
        var queries = SpannTestData.TinyQueries();
        using var index = SpannTestData.BuildAndOpen(vectors, new SpannBuildOptions { Metric = Metric.L2 }, out _);
        var truth = SpannTestData.Exact(vectors, queries, Metric.L2, 10);
        var found = index.Search(queries, 10, new SpannSearchParameters(), threads: 1);
        double recall = SpannTestData.Recall(found, truth, 10);
        output.WriteLine($"tiny-dense recall@10 at defaults: {recall}");
        Assert.True(recall >= 0.9, $"recall@10 = {recall}");
        // Fewer heads probe less and may not recall more.
        var narrow = index.Search(queries, 10, new SpannSearchParameters { Heads = 2 }, threads: 1);
        Assert.True(SpannTestData.Recall(narrow, truth, 10) <= recall);
    }

    [Fact]
    public void SingleQueryMatchesBatchAndCountsReads()
    {
        var vectors = SpannTestData.TinyBase();
        var queries = SpannTestData.TinyQueries();
        using var index = SpannTestData.BuildAndOpen(vectors, new SpannBuildOptions { Metric = Metric.L2 }, out _);
        var parameters = new SpannSearchParameters { Heads = 16, Io = PostingIoMode.Direct };
        var batch = index.Search(queries, 10, parameters, threads: 2);
        var ids = new int[10];
        var scores = new float[10];
        long before = index.ReadCount, bytesBefore = index.BytesRead;
        var heads = new int[16];
        for (int q = 0; q < queries.Count; q++)
        {
            index.SearchOne(queries.Float32Row(q), 10, parameters, ids, scores);
            Assert.Equal(batch.IdsOf(q).ToArray(), ids);
            // The pre-assigned-heads entry point with the heads the coarse stage picks gives the same answer.
            int n = index.SelectHeads(queries.Float32Row(q), parameters, heads);
            var ids2 = new int[10];
            index.SearchWithHeads(queries.Float32Row(q), heads.AsSpan(0, n), 10, parameters, ids2, new float[10]);
            Assert.Equal(ids, ids2);
        }
        Assert.True(index.ReadCount > before);
        Assert.Equal(0, (index.BytesRead - bytesBefore) % 4096);
    }

    [SkippableFact]
    public void RecallOnMiniLmSliceAboveFloor()
    {
        // 5,000 real MiniLM passages (cosine, float16) and 100 real queries; truth from exact search on the same slice.
        // Measured recall@10 0.993 at the defaults (M 64, eps2 0.6); floor 0.9.
        var dir = TestData.SharedDataset("minilm-passages");
        var vectors = Retrieval.Index.Formats.DenseVectorFile.Read(Path.Combine(dir, "base.npy"), new() { MaxRows = 5_000 });
        var queries = Retrieval.Index.Formats.DenseVectorFile.Read(Path.Combine(dir, "queries.npy"), new() { MaxRows = 100 }).ToFloat32();
        using var index = SpannTestData.BuildAndOpen(vectors, new SpannBuildOptions { Metric = Metric.Cosine, Storage = SpannStorage.Float16 }, out _);
        var truth = SpannTestData.Exact(vectors, queries, Metric.Cosine, 10);
        var found = index.Search(queries, 10, new SpannSearchParameters(), threads: 2);
        double recall = SpannTestData.Recall(found, truth, 10);
        output.WriteLine($"minilm 5k slice recall@10 at defaults: {recall}");
        Assert.True(recall >= 0.9, $"recall@10 = {recall}");
    }
}
