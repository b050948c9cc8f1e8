using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Evaluation;

/// <summary>Scores one returned id exactly for one query (row numbers of the query batch, ids of the base set).</summary>
public delegate float ExactScorer(int query, int id);

/// <summary>
/// Recall@k of nearest-neighbour results against exact ground truth, plain and tie-aware.
/// </summary>
/// <remarks>
/// <para><b>Definition.</b> For query q let R be the ids in the first k' returned columns (k' = all columns of the
/// results, k' &gt;= k; padding ids -1 and repeated ids count once at most) and G the first k ground-truth ids
/// (padding -1 ignored). Then recall@k(q) = |R ∩ G| / |G|, which is |R ∩ G| / k whenever the ground truth holds k
/// real neighbours (the usual case; ann-benchmarks' and big-ann-benchmarks' "k@k'" recall). The reported mean is
/// over queries with |G| &gt; 0; a query whose ground-truth row is all padding has recall NaN and is left out.</para>
/// <para><b>Tie-aware.</b> When several base vectors share the k-th best exact score, the ground truth lists an
/// arbitrary subset of them (shipped files usually the lowest ids) and an exact search may legitimately return
/// another. So a returned id also counts as correct when its exact score is at least as good as the k-th ground-truth
/// score t, within a relative tolerance: s &gt;= t - tol·|t| when higher is better, s &lt;= t + tol·|t| for L2
/// distances. Hits are capped at |G|, so tie-aware recall is still at most 1 and never below plain recall.</para>
/// </remarks>
public static class NeighborRecall
{
    /// <summary>Relative tolerance of the tie test: about 8 float32 ulps, enough for the same dot product summed in
    /// a different order, far below the gap between distinct neighbours of real data.</summary>
    public const double DefaultRelativeTolerance = 1e-6;

    /// <summary>Plain recall@k of every row of <paramref name="results"/> (k' = results.K columns) against ground
    /// truth ids given row-major with <paramref name="groundTruthColumns"/> ids per query.</summary>
    public static NeighborRecallResult RecallAtK(SearchResults results, ReadOnlySpan<int> groundTruthIds,
        int groundTruthColumns, int k)
    {
        ArgumentNullException.ThrowIfNull(results);
        return RecallAtK(results.Ids, results.K, groundTruthIds, groundTruthColumns, k);
    }

    /// <summary>Plain recall@k from row-major returned ids (<paramref name="returnedColumns"/> = k' per query) and
    /// row-major ground-truth ids. Both must describe the same number of queries.</summary>
    public static NeighborRecallResult RecallAtK(ReadOnlySpan<int> returnedIds, int returnedColumns,
        ReadOnlySpan<int> groundTruthIds, int groundTruthColumns, int k)
    {
        int queries = CheckShapes(returnedIds.Length, returnedColumns, groundTruthIds.Length, groundTruthColumns, k);
        var perQuery = new double[queries];
        for (int q = 0; q < queries; q++)
        {
            var returned = returnedIds.Slice(q * returnedColumns, returnedColumns);
            var truth = groundTruthIds.Slice(q * groundTruthColumns, k);
            int truthCount = CountValid(truth);
            perQuery[q] = truthCount == 0 ? double.NaN : (double)CountHits(returned, truth) / truthCount;
        }
        return new NeighborRecallResult(k, returnedColumns, perQuery);
    }

    /// <summary>
    /// Tie-aware recall@k where the returned scores in <paramref name="results"/> are exact (exact search, or an
    /// index that rescoring makes exact) and the ground truth comes with its scores, row-major like its ids, in the
    /// same units as the results (squared L2 distance, inner product or cosine).
    /// </summary>
    public static NeighborRecallResult TieAwareRecallAtK(SearchResults results, ReadOnlySpan<int> groundTruthIds,
        ReadOnlySpan<float> groundTruthScores, int groundTruthColumns, int k, Metric metric,
        double relativeTolerance = DefaultRelativeTolerance)
    {
        ArgumentNullException.ThrowIfNull(results);
        int queries = CheckShapes(results.Ids.Length, results.K, groundTruthIds.Length, groundTruthColumns, k);
        if (groundTruthScores.Length != groundTruthIds.Length)
            Guard.ThrowInvalid(
                $"ground truth has {groundTruthIds.Length} ids but {groundTruthScores.Length} scores; they must match");
        CheckTolerance(relativeTolerance);
        bool higherIsBetter = metric.HigherIsBetter();
        var perQuery = new double[queries];
        for (int q = 0; q < queries; q++)
        {
            var truth = groundTruthIds.Slice(q * groundTruthColumns, k);
            int truthCount = CountValid(truth);
            if (truthCount == 0) { perQuery[q] = double.NaN; continue; }
            float kth = groundTruthScores[q * groundTruthColumns + LastValidPosition(truth)];
            int hits = CountTieAwareHits(results.IdsOf(q), results.ScoresOf(q), truth, kth, higherIsBetter,
                relativeTolerance);
            perQuery[q] = (double)hits / truthCount;
        }
        return new NeighborRecallResult(k, results.K, perQuery);
    }

    /// <summary>
    /// Tie-aware recall@k where <paramref name="exactScorer"/> gives exact scores: both the k-th ground-truth
    /// score (the scorer applied to the k-th ground-truth id) and the score of every returned id are recomputed, so
    /// neither the ground truth's nor the index's own (possibly approximate) scores are trusted. This is the form to
    /// use with ground-truth files that hold ids only (.ivecs).
    /// </summary>
    public static NeighborRecallResult TieAwareRecallAtK(SearchResults results, ReadOnlySpan<int> groundTruthIds,
        int groundTruthColumns, int k, Metric metric, ExactScorer exactScorer,
        double relativeTolerance = DefaultRelativeTolerance)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(exactScorer);
        int queries = CheckShapes(results.Ids.Length, results.K, groundTruthIds.Length, groundTruthColumns, k);
        CheckTolerance(relativeTolerance);
        bool higherIsBetter = metric.HigherIsBetter();
        var perQuery = new double[queries];
        var exactScores = new float[results.K];
        for (int q = 0; q < queries; q++)
        {
            var truth = groundTruthIds.Slice(q * groundTruthColumns, k);
            int truthCount = CountValid(truth);
            if (truthCount == 0) { perQuery[q] = double.NaN; continue; }
            float kth = exactScorer(q, truth[LastValidPosition(truth)]);
            var returned = results.IdsOf(q);
            for (int i = 0; i < returned.Length; i++)
                exactScores[i] = returned[i] < 0 ? float.NaN : exactScorer(q, returned[i]);
            int hits = CountTieAwareHits(returned, exactScores, truth, kth, higherIsBetter, relativeTolerance);
            perQuery[q] = (double)hits / truthCount;
        }
        return new NeighborRecallResult(k, results.K, perQuery);
    }

    /// <summary>|R ∩ G| for one query: distinct non-negative returned ids that occur in <paramref name="groundTruthTopK"/>.</summary>
    public static int CountHits(ReadOnlySpan<int> returnedIds, ReadOnlySpan<int> groundTruthTopK)
    {
        int hits = 0;
        for (int i = 0; i < returnedIds.Length; i++)
        {
            int id = returnedIds[i];
            if (id < 0 || IsRepeat(returnedIds, i)) continue;
            if (groundTruthTopK.Contains(id)) hits++;
        }
        return hits;
    }

    /// <summary>
    /// Tie-aware hits for one query: distinct non-negative returned ids that are in <paramref name="groundTruthTopK"/>
    /// or whose exact score is at least as good as <paramref name="kthGroundTruthScore"/> (see the class remarks),
    /// capped at the number of valid ground-truth ids.
    /// </summary>
    public static int CountTieAwareHits(ReadOnlySpan<int> returnedIds, ReadOnlySpan<float> returnedExactScores,
        ReadOnlySpan<int> groundTruthTopK, float kthGroundTruthScore, bool higherIsBetter,
        double relativeTolerance = DefaultRelativeTolerance)
    {
        if (returnedExactScores.Length < returnedIds.Length)
            Guard.ThrowInvalid($"{returnedIds.Length} returned ids but only {returnedExactScores.Length} scores");
        double slack = relativeTolerance * Math.Abs((double)kthGroundTruthScore);
        double bound = higherIsBetter ? kthGroundTruthScore - slack : kthGroundTruthScore + slack;
        int hits = 0;
        for (int i = 0; i < returnedIds.Length; i++)
        {
            int id = returnedIds[i];
            if (id < 0 || IsRepeat(returnedIds, i)) continue;
            double s = returnedExactScores[i];
            bool goodEnough = higherIsBetter ? s >= bound : s <= bound; // NaN never qualifies
            if (goodEnough || groundTruthTopK.Contains(id)) hits++;
        }
        return Math.Min(hits, CountValid(groundTruthTopK));
    }

    private static bool IsRepeat(ReadOnlySpan<int> ids, int position) => ids[..position].Contains(ids[position]);

    private static int CountValid(ReadOnlySpan<int> ids)
    {
        int n = 0;
        foreach (int id in ids) if (id >= 0) n++;
        return n;
    }

    private static int LastValidPosition(ReadOnlySpan<int> ids)
    {
        for (int i = ids.Length - 1; i >= 0; i--) if (ids[i] >= 0) return i;
        return -1;
    }

    private static void CheckTolerance(double relativeTolerance)
    {
        if (!(relativeTolerance >= 0) || double.IsInfinity(relativeTolerance))
            Guard.ThrowInvalid($"relative tolerance must be a finite number >= 0, got {relativeTolerance}");
    }

    /// <summary>Validates k, k' and the two row-major shapes; returns the query count.</summary>
    private static int CheckShapes(int returnedLength, int returnedColumns, int truthLength, int truthColumns, int k)
    {
        Guard.ValidK(k);
        if (returnedColumns <= 0) Guard.ThrowInvalid($"returned columns (k') must be >= 1, got {returnedColumns}");
        if (truthColumns <= 0) Guard.ThrowInvalid($"ground-truth columns must be >= 1, got {truthColumns}");
        if (returnedColumns < k)
            Guard.ThrowInvalid($"recall@{k} needs at least {k} returned ids per query, got k' = {returnedColumns}");
        if (truthColumns < k)
            Guard.ThrowInvalid($"recall@{k} needs at least {k} ground-truth ids per query, the ground truth has {truthColumns}");
        if (returnedLength % returnedColumns != 0)
            Guard.ThrowInvalid($"{returnedLength} returned ids is not a whole number of rows of {returnedColumns}");
        if (truthLength % truthColumns != 0)
            Guard.ThrowInvalid($"{truthLength} ground-truth ids is not a whole number of rows of {truthColumns}");
        int queries = returnedLength / returnedColumns;
        int truthRows = truthLength / truthColumns;
        if (queries != truthRows)
            Guard.ThrowInvalid($"results hold {queries} queries but the ground truth holds {truthRows}");
        return queries;
    }
}

/// <summary>Recall@k per query and its mean over the queries that have ground truth.</summary>
public sealed class NeighborRecallResult
{
    public NeighborRecallResult(int k, int returnedColumns, double[] perQuery)
    {
        K = k;
        ReturnedColumns = returnedColumns;
        PerQuery = perQuery;
        double sum = 0;
        int n = 0;
        foreach (double r in perQuery)
        {
            if (double.IsNaN(r)) continue;
            sum += r;
            n++;
        }
        EvaluatedQueries = n;
        Mean = n == 0 ? double.NaN : sum / n;
    }

    /// <summary>The k of recall@k (ground-truth neighbours per query).</summary>
    public int K { get; }
    /// <summary>k': returned ids per query that were searched for those neighbours.</summary>
    public int ReturnedColumns { get; }
    /// <summary>Recall of each query in [0, 1]; NaN for a query with no ground-truth id.</summary>
    public double[] PerQuery { get; }
    /// <summary>Queries counted in <see cref="Mean"/> (those with at least one ground-truth id).</summary>
    public int EvaluatedQueries { get; }
    /// <summary>Mean recall over <see cref="EvaluatedQueries"/>; NaN when there are none.</summary>
    public double Mean { get; }
}
