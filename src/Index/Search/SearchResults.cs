using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Search;

/// <summary>
/// Top-k answers for a batch of queries, FAISS style: row-major QueryCount x K ids and scores, best first.
/// Rows with fewer than K answers are padded with id -1 and score NaN. Scores are in the metric's natural
/// units (see <see cref="Metric"/>).
/// </summary>
public sealed class SearchResults
{
    public const int MissingId = -1;

    public SearchResults(int queryCount, int k)
    {
        if (queryCount < 0) Guard.ThrowInvalid($"query count must be >= 0, got {queryCount}");
        Guard.ValidK(k);
        QueryCount = queryCount;
        K = k;
        Ids = new int[checked(queryCount * k)];
        Scores = new float[Ids.Length];
        Ids.AsSpan().Fill(MissingId);
        Scores.AsSpan().Fill(float.NaN);
    }

    public int QueryCount { get; }
    public int K { get; }
    public int[] Ids { get; }
    public float[] Scores { get; }

    public Span<int> IdsOf(int query) => Ids.AsSpan(query * K, K);
    public Span<float> ScoresOf(int query) => Scores.AsSpan(query * K, K);
}
