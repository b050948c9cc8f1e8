using Retrieval.Index.Exact;
using Retrieval.Index.Search;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Seismic;

public class SeismicExactnessTests
{
    /// <summary>
    /// Pruning disabled (every posting kept, summaries keep all mass, float32 values, every query term visited, no
    /// block ever skipped): Seismic must return exactly what exhaustive exact search returns. Scores agree to float
    /// reassociation (the forward dot uses four accumulators); ids agree wherever neighbouring scores are not tied.
    /// </summary>
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    public void LosslessBuildWithExhaustiveSearchEqualsExact(int seed, bool fewLevels)
    {
        var docs = SeismicTestData.Collection(seed, rows: 1500, vocabulary: 700, maxNnz: 40, fewLevels);
        var queries = SeismicTestData.Collection(seed + 100, rows: 60, vocabulary: 700, maxNnz: 12, fewLevels);
        var exact = new ExactSparseIndex(docs).Search(queries, k: 20, threads: 1);
        var index = SeismicIndex.Build(docs, SeismicBuildOptions.Lossless with { Threads = 2 });
        var approx = index.Search(queries, 20, SeismicSearchParameters.Exhaustive, threads: 1);
        AssertSameTopK(exact, approx);
        // Batch across threads returns the same rows as one thread.
        var batch = index.Search(queries, 20, SeismicSearchParameters.Exhaustive, threads: 2);
        Assert.Equal(approx.Ids, batch.Ids);
        Assert.Equal(approx.Scores, batch.Scores);
    }

    /// <summary>Summary pruning (alpha = 0.4) alone cannot lose results when blocks are never skipped.</summary>
    [Fact]
    public void LossySummariesStillExactWhenNothingIsSkipped()
    {
        var docs = SeismicTestData.Collection(7, rows: 1200, vocabulary: 500, maxNnz: 30);
        var queries = SeismicTestData.Collection(8, rows: 40, vocabulary: 500, maxNnz: 10);
        var exact = new ExactSparseIndex(docs).Search(queries, k: 10, threads: 1);
        var index = SeismicIndex.Build(docs, SeismicBuildOptions.Lossless with { SummaryEnergy = 0.4, Values = ForwardValueStorage.Float32 });
        AssertSameTopK(exact, index.Search(queries, 10, SeismicSearchParameters.Exhaustive, threads: 1));
    }

    /// <summary>
    /// Every block order visits every block when nothing is skipped, so each is exact on a lossless build; with
    /// skipping on, the orders differ only in which documents they score (all scores stay exact inner products).
    /// </summary>
    [Theory]
    [InlineData(SeismicBlockOrder.ListOrder)]
    [InlineData(SeismicBlockOrder.ListBestFirst)]
    [InlineData(SeismicBlockOrder.GlobalBestFirst)]
    public void EveryBlockOrderIsExactWhenNothingIsSkipped(SeismicBlockOrder order)
    {
        var docs = SeismicTestData.Collection(21, rows: 1500, vocabulary: 600, maxNnz: 35);
        var queries = SeismicTestData.Collection(22, rows: 50, vocabulary: 600, maxNnz: 12);
        var exact = new ExactSparseIndex(docs).Search(queries, k: 15, threads: 1);
        var index = SeismicIndex.Build(docs, SeismicBuildOptions.Lossless with { Values = ForwardValueStorage.Float32 });
        AssertSameTopK(exact, index.Search(queries, 15, SeismicSearchParameters.Exhaustive with { BlockOrder = order }, threads: 1));

        var pruned = SeismicIndex.Build(docs, SeismicBuildOptions.Default with { Values = ForwardValueStorage.Float32 });
        var stats = new SeismicQueryStats();
        var approx = pruned.Search(queries, 15, new SeismicSearchParameters { QueryCut = 4, HeapFactor = 0.9f, BlockOrder = order }, 1, out stats);
        Assert.True(stats.BlocksSkipped > 0, "the heap test should skip blocks at heap_factor 0.9");
        for (int q = 0; q < queries.RowCount; q++)
        {
            var ids = approx.IdsOf(q);
            var scores = approx.ScoresOf(q);
            for (int i = 0; i < ids.Length && ids[i] >= 0; i++)
                Assert.Equal(SparseDot.Dot(queries.Row(q), docs.Row(ids[i])), scores[i], 1e-4f * Math.Max(1f, Math.Abs(scores[i])));
        }
    }

    /// <summary>
    /// A growing heap factor sets a stricter bar in every list after the first, so on this collection it scores fewer
    /// documents (not a theorem: a lower heap can admit other blocks later); every order applies it, scores stay exact,
    /// and growth 0 is the plain rule, document for document.
    /// </summary>
    [Theory]
    [InlineData(SeismicBlockOrder.ListOrder)]
    [InlineData(SeismicBlockOrder.ListBestFirst)]
    [InlineData(SeismicBlockOrder.GlobalBestFirst)]
    public void GrowingHeapFactorScoresFewerDocumentsAndStaysExact(SeismicBlockOrder order)
    {
        var docs = SeismicTestData.Collection(31, rows: 3000, vocabulary: 500, maxNnz: 40);
        var queries = SeismicTestData.Collection(32, rows: 60, vocabulary: 500, maxNnz: 14);
        var index = SeismicIndex.Build(docs, SeismicBuildOptions.Default with { Values = ForwardValueStorage.Float32 });
        var plain = new SeismicSearchParameters { QueryCut = 8, HeapFactor = 0.6f, BlockOrder = order };
        var a = index.Search(queries, 10, plain, 1, out var plainStats);
        var b = index.Search(queries, 10, plain with { HeapFactorGrowth = 0f }, 1, out var zeroStats);
        Assert.Equal(plainStats.DocumentsScored, zeroStats.DocumentsScored);
        Assert.Equal(a.Ids, b.Ids);
        var grown = index.Search(queries, 10, plain with { HeapFactorGrowth = 0.3f }, 1, out var grownStats);
        Assert.True(grownStats.DocumentsScored < plainStats.DocumentsScored,
            $"growth 0.3 scored {grownStats.DocumentsScored} documents, plain {plainStats.DocumentsScored}");
        for (int q = 0; q < queries.RowCount; q++)
        {
            var ids = grown.IdsOf(q);
            var scores = grown.ScoresOf(q);
            for (int i = 0; i < ids.Length && ids[i] >= 0; i++)
                Assert.Equal(SparseDot.Dot(queries.Row(q), docs.Row(ids[i])), scores[i], 1e-4f * Math.Max(1f, Math.Abs(scores[i])));
        }
        Assert.Equal(0.6f * (1f + 0.3f * 2), (plain with { HeapFactorGrowth = 0.3f }).HeapFactorAt(2), 1e-6f);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void BadHeapFactorGrowthIsRejected(float growth)
    {
        var e = Assert.Throws<Retrieval.Index.Errors.RetrievalException>(() => new SeismicSearchParameters { HeapFactorGrowth = growth }.Validate());
        Assert.Contains("HeapFactorGrowth", e.Message);
    }

    [Fact]
    public void BlockOrderNamesRoundTripAndUnknownNamesAreRejected()
    {
        foreach (var order in Enum.GetValues<SeismicBlockOrder>())
            Assert.Equal(order, SeismicSearchParameters.ParseBlockOrder(SeismicSearchParameters.BlockOrderName(order)));
        var e = Assert.Throws<Retrieval.Index.Errors.RetrievalException>(() => SeismicSearchParameters.ParseBlockOrder("diagonal"));
        Assert.Contains("diagonal", e.Message);
        e = Assert.Throws<Retrieval.Index.Errors.RetrievalException>(() => new SeismicSearchParameters { BlockOrder = (SeismicBlockOrder)9 }.Validate());
        Assert.Contains("BlockOrder", e.Message);
    }

    internal static void AssertSameTopK(SearchResults exact, SearchResults approx)
    {
        Assert.Equal(exact.QueryCount, approx.QueryCount);
        for (int q = 0; q < exact.QueryCount; q++)
        {
            var eIds = exact.IdsOf(q);
            var eScores = exact.ScoresOf(q);
            var aIds = approx.IdsOf(q);
            var aScores = approx.ScoresOf(q);
            for (int i = 0; i < exact.K; i++)
            {
                if (eIds[i] == SearchResults.MissingId)
                {
                    Assert.Equal(SearchResults.MissingId, aIds[i]);
                    continue;
                }
                float tolerance = 1e-5f * Math.Max(1f, Math.Abs(eScores[i]));
                Assert.True(Math.Abs(eScores[i] - aScores[i]) <= tolerance, $"query {q} rank {i}: exact {eScores[i]} vs seismic {aScores[i]}");
                bool tiedWithNeighbour = (i > 0 && Math.Abs(eScores[i] - eScores[i - 1]) <= tolerance)
                    || (i + 1 < exact.K && eIds[i + 1] >= 0 && Math.Abs(eScores[i] - eScores[i + 1]) <= tolerance);
                if (!tiedWithNeighbour) Assert.True(eIds[i] == aIds[i], $"query {q} rank {i}: exact id {eIds[i]} vs seismic {aIds[i]}");
            }
        }
    }
}
