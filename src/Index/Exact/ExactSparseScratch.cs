using Retrieval.Index.Search;

namespace Retrieval.Index.Exact;

/// <summary>
/// Per-thread working memory of exact sparse search: a score accumulator with one float per document, a flag per
/// document saying whether this query touched it, the list of touched documents, and the top-k heap. Allocated once
/// per thread and reused across queries; after each query only the touched entries are reset, so a query costs time
/// proportional to the postings it reads, not to the collection size.
/// </summary>
internal sealed class ExactSparseScratch
{
    public ExactSparseScratch(int documentCount)
    {
        Scores = new float[documentCount];
        Touched = new bool[documentCount];
        TouchedDocs = new int[documentCount];
    }

    /// <summary>Partial inner product per document id; zero for every untouched document between queries.</summary>
    public float[] Scores { get; }
    /// <summary>True for documents already in <see cref="TouchedDocs"/> this query; all false between queries.</summary>
    public bool[] Touched { get; }
    /// <summary>Doc ids touched by the current query, in first-touch order; the first TouchedCount entries are live.</summary>
    public int[] TouchedDocs { get; }
    public int TouchedCount { get; set; }

    private TopKHeap? _heap;

    /// <summary>The heap for k; reallocated only when k differs from the previous query's.</summary>
    public TopKHeap HeapFor(int k)
    {
        if (_heap is null || _heap.Capacity != k) _heap = new TopKHeap(k);
        else _heap.Clear();
        return _heap;
    }

    /// <summary>Returns the accumulator to all-zero / untouched by visiting only what this query touched.</summary>
    public void ResetTouched()
    {
        var scores = Scores;
        var touched = Touched;
        var docs = TouchedDocs;
        for (int i = 0; i < TouchedCount; i++)
        {
            int d = docs[i];
            scores[d] = 0f;
            touched[d] = false;
        }
        TouchedCount = 0;
    }
}
