using Retrieval.Bench.Evaluation;
using Retrieval.Index.Errors;

namespace Retrieval.Tests.Evaluation;

public class RankingMetricsTests
{
    // Judgements: d1 grade 3, d2 grade 2, d3 grade 1, d4 judged non-relevant (0), d9 grade 2 but never retrieved.
    private static readonly Dictionary<string, int> Judged = new()
    {
        ["d1"] = 3,
        ["d2"] = 2,
        ["d3"] = 1,
        ["d4"] = 0,
        ["d9"] = 2,
    };

    // Ranking: rank 1 d2, rank 2 dX (unjudged), rank 3 d1, rank 4 d4, rank 5 d3.
    private static readonly string[] Ranked = ["d2", "dX", "d1", "d4", "d3"];

    [Fact]
    public void NdcgByHand()
    {
        // DCG@5  = 2/log2(2) + 0 + 3/log2(4) + 0 + 1/log2(6) = 2 + 1.5 + 0.386852807 = 3.886852807
        // IDCG@5 = grades of all relevant judged docs, sorted 3,2,2,1 (d9 counts though unretrieved):
        //          3/log2(2) + 2/log2(3) + 2/log2(4) + 1/log2(5) = 3 + 1.261859507 + 1 + 0.430676558 = 5.692536065
        // nDCG@5 = 0.682798100 (linear gains; with 2^g-1 gains it would be different)
        Assert.Equal(0.6827980996000675, RankingMetrics.NdcgAtK(Ranked, Judged, 5), 12);
        // nDCG@2 = (2 + 0) / (3 + 2/log2(3)) = 0.469278726
        Assert.Equal(0.46927872602275644, RankingMetrics.NdcgAtK(Ranked, Judged, 2), 12);
        // k beyond the list: the same DCG as @5, IDCG over all four relevant docs = same as @5.
        Assert.Equal(0.6827980996000675, RankingMetrics.NdcgAtK(Ranked, Judged, 100), 12);
        // The ideal ranking scores exactly 1.
        Assert.Equal(1.0, RankingMetrics.NdcgAtK(["d1", "d2", "d9", "d3"], Judged, 10), 12);
    }

    [Fact]
    public void MrrByHand()
    {
        Assert.Equal(1.0, RankingMetrics.MrrAtK(Ranked, Judged, 10));
        // First relevant (d3, grade 1) at rank 3; d4 (grade 0) and dX (unjudged) do not count.
        string[] late = ["dX", "d4", "d3", "d1"];
        Assert.Equal(1.0 / 3, RankingMetrics.MrrAtK(late, Judged, 10), 12);
        Assert.Equal(0.0, RankingMetrics.MrrAtK(late, Judged, 2));
        Assert.Equal(0.0, RankingMetrics.MrrAtK([], Judged, 10));
    }

    [Fact]
    public void RecallByHand()
    {
        // Relevant: d1, d2, d3, d9 (4). Top 3 holds d2, d1 -> 2/4; top 5 adds d3 -> 3/4.
        Assert.Equal(0.5, RankingMetrics.RecallAtK(Ranked, Judged, 3));
        Assert.Equal(0.75, RankingMetrics.RecallAtK(Ranked, Judged, 5));
        Assert.Equal(0.75, RankingMetrics.RecallAtK(Ranked, Judged, 1000));
        Assert.Equal(0.0, RankingMetrics.RecallAtK([], Judged, 10));
    }

    [Fact]
    public void QueriesWithoutRelevantJudgementsAreUndefinedAndExcluded()
    {
        var onlyZero = new Dictionary<string, int> { ["a"] = 0, ["b"] = -1 };
        Assert.True(double.IsNaN(RankingMetrics.NdcgAtK(["a"], onlyZero, 10)));
        Assert.True(double.IsNaN(RankingMetrics.MrrAtK(["a"], onlyZero, 10)));
        Assert.True(double.IsNaN(RankingMetrics.RecallAtK(["a"], onlyZero, 10)));
        Assert.False(RankingMetrics.HasRelevant(onlyZero));
        Assert.False(RankingMetrics.HasRelevant(new Dictionary<string, int>()));

        var summary = RankingMetrics.Evaluate(
        [
            new QueryRanking("q1", Ranked, Judged),
            new QueryRanking("q2", ["a", "b"], onlyZero),                       // excluded
            new QueryRanking("q3", [], new Dictionary<string, int> { ["z"] = 1 }), // empty ranking: all zeros, counted
            new QueryRanking("q4", ["z"], new Dictionary<string, int>()),         // no judgements: excluded
        ], ndcgK: 5, mrrK: 10, recallK: 3);

        Assert.Equal(2, summary.EvaluatedQueries);
        Assert.Equal(2, summary.SkippedQueries);
        Assert.Equal(["q1", "q3"], summary.PerQuery.Select(p => p.QueryId).ToArray());
        Assert.Equal(0.6827980996000675 / 2, summary.Ndcg, 12);
        Assert.Equal(0.5, summary.Mrr, 12);
        Assert.Equal(0.25, summary.Recall, 12);
        Assert.Equal((5, 10, 3), (summary.NdcgK, summary.MrrK, summary.RecallK));
    }

    [Fact]
    public void NoEvaluableQueriesGiveNaNMeans()
    {
        var summary = RankingMetrics.Evaluate([]);
        Assert.Equal(0, summary.EvaluatedQueries);
        Assert.True(double.IsNaN(summary.Ndcg));
    }

    [Fact]
    public void NegativeGradesCountAsNonRelevant()
    {
        var judged = new Dictionary<string, int> { ["bad"] = -2, ["good"] = 1 };
        // DCG@2 = 0 + 1/log2(3); IDCG@2 = 1.
        Assert.Equal(1 / Math.Log2(3), RankingMetrics.NdcgAtK(["bad", "good"], judged, 2), 12);
    }

    [Fact]
    public void BadInputIsRejected()
    {
        var ex = Assert.Throws<RetrievalException>(() => RankingMetrics.NdcgAtK(Ranked, Judged, 0));
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        ex = Assert.Throws<RetrievalException>(() =>
            RankingMetrics.Evaluate([new QueryRanking("q7", ["d1", "d2", "d1"], Judged)]));
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains("query 'q7': document 'd1' appears twice", ex.Message);
        ex = Assert.Throws<RetrievalException>(() => RankingMetrics.Evaluate([], recallK: -1));
        Assert.Contains("recallK", ex.Message);
    }
}
