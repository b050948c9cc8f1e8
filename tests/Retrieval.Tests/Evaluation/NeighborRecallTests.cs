using Retrieval.Bench.Evaluation;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Evaluation;

public class NeighborRecallTests
{
    private static SearchResults Results(int k, params (int Id, float Score)[][] rows)
    {
        var r = new SearchResults(rows.Length, k);
        for (int q = 0; q < rows.Length; q++)
            for (int i = 0; i < rows[q].Length; i++)
                (r.IdsOf(q)[i], r.ScoresOf(q)[i]) = rows[q][i];
        return r;
    }

    [Fact]
    public void PlainRecallWithMoreReturnedThanK()
    {
        // Ground truth: 3 columns per query, recall@2 uses the first two.
        int[] gt = [10, 11, 12, 20, 21, 22, 30, 31, 32];
        // k' = 4 returned per query.
        int[] returned = [11, 99, 98, 10, 21, 12, -1, -1, 97, 96, 95, 32];
        var r = NeighborRecall.RecallAtK(returned, 4, gt, 3, k: 2);
        // q0: {10,11} both within the 4 returned -> 1; q1: only 21 -> 0.5; q2: 32 is gt rank 3, not in top-2 -> 0.
        Assert.Equal([1.0, 0.5, 0.0], r.PerQuery);
        Assert.Equal(0.5, r.Mean, 12);
        Assert.Equal((2, 4, 3), (r.K, r.ReturnedColumns, r.EvaluatedQueries));
    }

    [Fact]
    public void RepeatedAndPaddingIdsCountOnce()
    {
        int[] gt = [1, 2, 3];
        Assert.Equal(1.0 / 3, NeighborRecall.RecallAtK([1, 1, 1, -1], 4, gt, 3, 3).Mean, 12);
        Assert.Equal(1, NeighborRecall.CountHits([2, 2, -1, 7], [1, 2, 3]));
    }

    [Fact]
    public void QueriesWithoutGroundTruthAreLeftOut()
    {
        int[] gt = [1, 2, -1, -1, 5, -1];
        int[] returned = [1, 9, 1, 2, 5, 6];
        var r = NeighborRecall.RecallAtK(returned, 2, gt, 2, 2);
        Assert.Equal(0.5, r.PerQuery[0]);
        Assert.True(double.IsNaN(r.PerQuery[1]));
        // Only one real neighbour exists for q2: the denominator is 1, not k.
        Assert.Equal(1.0, r.PerQuery[2]);
        Assert.Equal(0.75, r.Mean, 12);
        Assert.Equal(2, r.EvaluatedQueries);
    }

    [Fact]
    public void SearchResultsOverloadMatchesSpans()
    {
        var results = Results(3, [(4, 0.9f), (7, 0.8f), (1, 0.7f)], [(2, 0.5f), (-1, float.NaN), (-1, float.NaN)]);
        int[] gt = [4, 1, 3, 2];
        var r = NeighborRecall.RecallAtK(results, gt, 2, 2);
        Assert.Equal([1.0, 0.5], r.PerQuery);
    }

    [Fact]
    public void TieAwareCountsEquallyGoodIdsWithGroundTruthScores()
    {
        // Ground truth top-2 for q0 is ids 0 (0.9) and 1 (0.8); id 5 also scores 0.8 exactly (a tie at rank k).
        int[] gtIds = [0, 1, 2, 10, 11, 12];
        float[] gtScores = [0.9f, 0.8f, 0.7f, 3f, 2f, 1f];
        var results = Results(2,
            [(0, 0.9f), (5, 0.8f)],
            [(10, 3f), (13, 2f * (1 - 2e-6f))]); // q1: just below the k-th score, beyond the tolerance
        var plain = NeighborRecall.RecallAtK(results, gtIds, 3, 2);
        Assert.Equal([0.5, 0.5], plain.PerQuery);
        var tieAware = NeighborRecall.TieAwareRecallAtK(results, gtIds, gtScores, 3, 2, Metric.InnerProduct);
        Assert.Equal([1.0, 0.5], tieAware.PerQuery);
        // Within a looser tolerance q1's id 13 counts as well.
        var loose = NeighborRecall.TieAwareRecallAtK(results, gtIds, gtScores, 3, 2, Metric.InnerProduct, 1e-5);
        Assert.Equal([1.0, 1.0], loose.PerQuery);
    }

    [Fact]
    public void TieAwareForL2MeansSmallerIsBetter()
    {
        int[] gtIds = [0, 1];
        float[] gtScores = [1f, 4f];
        var tie = Results(2, [(0, 1f), (9, 4f)]);
        var worse = Results(2, [(0, 1f), (9, 4.01f)]);
        Assert.Equal(1.0, NeighborRecall.TieAwareRecallAtK(tie, gtIds, gtScores, 2, 2, Metric.L2).Mean);
        Assert.Equal(0.5, NeighborRecall.TieAwareRecallAtK(worse, gtIds, gtScores, 2, 2, Metric.L2).Mean);
        // Under a higher-is-better metric the same numbers mean 4.01 beats 4 (it is "at least as good").
        Assert.Equal(1.0, NeighborRecall.TieAwareRecallAtK(worse, gtIds, gtScores, 2, 2, Metric.InnerProduct).Mean);
    }

    [Fact]
    public void TieAwareHitsAreCappedAtK()
    {
        // Four returned ids all tie with the k-th (k = 2) ground-truth score: recall is 1, not 2.
        var results = Results(4, [(3, 0.5f), (4, 0.5f), (5, 0.5f), (6, 0.5f)]);
        var r = NeighborRecall.TieAwareRecallAtK(results, [1, 2], [0.5f, 0.5f], 2, 2, Metric.Cosine);
        Assert.Equal(1.0, r.Mean);
        Assert.Equal(0, NeighborRecall.CountTieAwareHits([-1, 7], [float.NaN, float.NaN], [1, 2], 0.5f, true));
    }

    [Fact]
    public void TieAwareWithAnExactScorerIgnoresTheIndexScores()
    {
        // Base set: 1-d "vectors" with values; the query batch has one query with value 1 (score = base value).
        float[] baseValues = [5f, 3f, 3f, 3f, 1f];
        float Score(int query, int id) => baseValues[id] * 1f;
        // Exact top-2 by ip: id 0 (5), then one of ids 1, 2, 3 (all 3); the file lists id 1.
        int[] gtIds = [0, 1];
        // An approximate index returned id 3 with a wrong (approximate) score; exactly it ties with the k-th.
        var results = Results(3, [(0, 4.9f), (3, 2.5f), (4, 1.1f)]);
        Assert.Equal(0.5, NeighborRecall.RecallAtK(results, gtIds, 2, 2).Mean);
        var r = NeighborRecall.TieAwareRecallAtK(results, gtIds, 2, 2, Metric.InnerProduct, Score);
        Assert.Equal(1.0, r.Mean);
        // Without the scorer, the index's own 2.5 would not reach the k-th ground-truth score 3.
        var own = NeighborRecall.TieAwareRecallAtK(results, gtIds, [5f, 3f], 2, 2, Metric.InnerProduct);
        Assert.Equal(0.5, own.Mean);
    }

    [Fact]
    public void ShapeErrorsAreRejected()
    {
        AssertInvalid(() => NeighborRecall.RecallAtK([1, 2], 2, [1, 2, 3], 3, 3), "k' = 2");
        AssertInvalid(() => NeighborRecall.RecallAtK([1, 2, 3], 3, [1, 2], 2, 3), "the ground truth has 2");
        AssertInvalid(() => NeighborRecall.RecallAtK([1, 2, 3, 4], 2, [1, 2], 2, 2), "results hold 2 queries but the ground truth holds 1");
        AssertInvalid(() => NeighborRecall.RecallAtK([1, 2, 3], 2, [1, 2], 2, 2), "not a whole number of rows");
        AssertInvalid(() => NeighborRecall.RecallAtK([1], 1, [1], 1, 0), "k must be >= 1");
        var results = Results(2, [(0, 1f), (1, 1f)]);
        AssertInvalid(() => NeighborRecall.TieAwareRecallAtK(results, [0, 1], [1f], 2, 2, Metric.L2), "scores");
        AssertInvalid(() => NeighborRecall.TieAwareRecallAtK(results, [0, 1], [1f, 1f], 2, 2, Metric.L2, double.NaN), "tolerance");
    }

    private static void AssertInvalid(Action action, string fragment)
    {
        var ex = Assert.Throws<RetrievalException>(action);
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains(fragment, ex.Message);
    }
}
