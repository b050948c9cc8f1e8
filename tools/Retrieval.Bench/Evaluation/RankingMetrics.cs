using Retrieval.Index.Errors;

namespace Retrieval.Bench.Evaluation;

/// <summary>
/// Graded-relevance ranking metrics with the conventions of BEIR's evaluation (pytrec_eval / trec_eval):
/// nDCG@k, MRR@k and recall@k. A document is relevant when its grade is &gt; 0; unjudged documents have grade 0.
/// </summary>
/// <remarks>
/// <para><b>nDCG@k</b> = DCG@k / IDCG@k with DCG@k = Σ_{i=1..min(k,n)} gain(d_i) / log2(i + 1), gain = the grade
/// itself (linear, trec_eval's ndcg_cut, not 2^g - 1; negative grades count as 0), and IDCG@k the DCG@k of all judged
/// documents of that query with grade &gt; 0 sorted by grade descending — whether or not they were retrieved.</para>
/// <para><b>MRR@k</b> = 1 / rank of the first relevant document within the first k, 0 when there is none.</para>
/// <para><b>Recall@k</b> = relevant documents within the first k / all relevant documents of the query.</para>
/// <para>The ranking is the order of the list given (rank 1 first); it is not re-sorted. A document id may occur
/// once per list (<see cref="Evaluate"/> rejects a repeat with InvalidInput). A query whose judgements hold no
/// relevant document has no defined value: the per-query methods return NaN for it and <see cref="Evaluate"/> leaves
/// it out of the means, as pytrec_eval (and so BEIR) do. An empty ranked list for a query that has relevant documents
/// scores 0 on every metric and is counted.</para>
/// </remarks>
public static class RankingMetrics
{
    /// <summary>nDCG@k of one ranking (see the class remarks); NaN when no judged document is relevant.</summary>
    public static double NdcgAtK(IReadOnlyList<string> rankedDocIds, IReadOnlyDictionary<string, int> judgements, int k)
    {
        CheckArguments(rankedDocIds, judgements, k);
        double ideal = IdealDcg(judgements, k);
        if (ideal == 0) return double.NaN;
        double dcg = 0;
        int n = Math.Min(k, rankedDocIds.Count);
        for (int i = 0; i < n; i++)
        {
            if (judgements.TryGetValue(rankedDocIds[i], out int grade) && grade > 0)
                dcg += grade / Math.Log2(i + 2);
        }
        return dcg / ideal;
    }

    /// <summary>Reciprocal rank of the first relevant document within the first k (0 if none); NaN when the query has
    /// no relevant judged document.</summary>
    public static double MrrAtK(IReadOnlyList<string> rankedDocIds, IReadOnlyDictionary<string, int> judgements, int k)
    {
        CheckArguments(rankedDocIds, judgements, k);
        if (CountRelevant(judgements) == 0) return double.NaN;
        int n = Math.Min(k, rankedDocIds.Count);
        for (int i = 0; i < n; i++)
        {
            if (judgements.TryGetValue(rankedDocIds[i], out int grade) && grade > 0) return 1.0 / (i + 1);
        }
        return 0;
    }

    /// <summary>Fraction of the query's relevant documents found within the first k; NaN when it has none.</summary>
    public static double RecallAtK(IReadOnlyList<string> rankedDocIds, IReadOnlyDictionary<string, int> judgements, int k)
    {
        CheckArguments(rankedDocIds, judgements, k);
        int relevant = CountRelevant(judgements);
        if (relevant == 0) return double.NaN;
        int found = 0;
        int n = Math.Min(k, rankedDocIds.Count);
        for (int i = 0; i < n; i++)
        {
            if (judgements.TryGetValue(rankedDocIds[i], out int grade) && grade > 0) found++;
        }
        return (double)found / relevant;
    }

    /// <summary>True when at least one judged document has grade &gt; 0, i.e. the query takes part in the means.</summary>
    public static bool HasRelevant(IReadOnlyDictionary<string, int> judgements) => CountRelevant(judgements) > 0;

    /// <summary>
    /// Per-query nDCG@<paramref name="ndcgK"/>, MRR@<paramref name="mrrK"/> and recall@<paramref name="recallK"/>, and
    /// their means over the queries that have a relevant judgement (BEIR reports nDCG@10, MRR@10, recall@100).
    /// </summary>
    public static RankingSummary Evaluate(IReadOnlyList<QueryRanking> queries, int ndcgK = 10, int mrrK = 10,
        int recallK = 100)
    {
        ArgumentNullException.ThrowIfNull(queries);
        Guard.ValidK(ndcgK, nameof(ndcgK));
        Guard.ValidK(mrrK, nameof(mrrK));
        Guard.ValidK(recallK, nameof(recallK));
        var perQuery = new List<QueryRankingScores>(queries.Count);
        double ndcg = 0, mrr = 0, recall = 0;
        int skipped = 0;
        foreach (var query in queries)
        {
            CheckNoRepeats(query);
            if (!HasRelevant(query.Judgements))
            {
                skipped++;
                continue;
            }
            var scores = new QueryRankingScores(query.QueryId,
                NdcgAtK(query.RankedDocIds, query.Judgements, ndcgK),
                MrrAtK(query.RankedDocIds, query.Judgements, mrrK),
                RecallAtK(query.RankedDocIds, query.Judgements, recallK));
            perQuery.Add(scores);
            ndcg += scores.Ndcg;
            mrr += scores.Mrr;
            recall += scores.Recall;
        }
        int n = perQuery.Count;
        return new RankingSummary(ndcgK, mrrK, recallK,
            n == 0 ? double.NaN : ndcg / n,
            n == 0 ? double.NaN : mrr / n,
            n == 0 ? double.NaN : recall / n,
            n, skipped, perQuery);
    }

    /// <summary>IDCG@k: the best achievable DCG@k from the query's relevant judgements, grades sorted descending.</summary>
    internal static double IdealDcg(IReadOnlyDictionary<string, int> judgements, int k)
    {
        var grades = new List<int>();
        foreach (var pair in judgements) if (pair.Value > 0) grades.Add(pair.Value);
        grades.Sort((a, b) => b.CompareTo(a));
        double ideal = 0;
        int n = Math.Min(k, grades.Count);
        for (int i = 0; i < n; i++) ideal += grades[i] / Math.Log2(i + 2);
        return ideal;
    }

    private static int CountRelevant(IReadOnlyDictionary<string, int> judgements)
    {
        int n = 0;
        foreach (var pair in judgements) if (pair.Value > 0) n++;
        return n;
    }

    private static void CheckArguments(IReadOnlyList<string> rankedDocIds, IReadOnlyDictionary<string, int> judgements, int k)
    {
        ArgumentNullException.ThrowIfNull(rankedDocIds);
        ArgumentNullException.ThrowIfNull(judgements);
        Guard.ValidK(k);
    }

    private static void CheckNoRepeats(QueryRanking query)
    {
        ArgumentNullException.ThrowIfNull(query.RankedDocIds);
        ArgumentNullException.ThrowIfNull(query.Judgements);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < query.RankedDocIds.Count; i++)
        {
            if (!seen.Add(query.RankedDocIds[i]))
                Guard.ThrowInvalid(
                    $"query '{query.QueryId}': document '{query.RankedDocIds[i]}' appears twice in the ranking (again at rank {i + 1})");
        }
    }
}

/// <summary>One query's ranking (doc ids, best first) and its judgements (doc id -> grade; grade &gt; 0 = relevant).</summary>
public sealed record QueryRanking(string QueryId, IReadOnlyList<string> RankedDocIds,
    IReadOnlyDictionary<string, int> Judgements);

/// <summary>Metrics of one evaluated query.</summary>
public readonly record struct QueryRankingScores(string QueryId, double Ndcg, double Mrr, double Recall);

/// <summary>
/// Means of nDCG@NdcgK, MRR@MrrK and recall@RecallK over <see cref="EvaluatedQueries"/> (queries with a relevant
/// judgement); <see cref="SkippedQueries"/> counts the queries left out because none of their judgements is relevant.
/// </summary>
public sealed record RankingSummary(int NdcgK, int MrrK, int RecallK, double Ndcg, double Mrr, double Recall,
    int EvaluatedQueries, int SkippedQueries, IReadOnlyList<QueryRankingScores> PerQuery);
