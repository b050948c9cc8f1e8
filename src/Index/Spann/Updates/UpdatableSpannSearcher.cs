using Retrieval.Index.Search;

namespace Retrieval.Index.Spann;

/// <summary>
/// Per-thread search state of an <see cref="UpdatableSpannIndex"/>: the prepared query, head list, score buffer,
/// the replica de-duplication set and the result heap. Rented from the index's pool; one thread at a time.
/// Ids are caller-chosen and unbounded, so de-duplication uses a set cleared per query rather than an id-indexed
/// epoch array.
/// </summary>
internal sealed class UpdatableSpannSearcher(int dimension)
{
    private TopKHeap? _heap;

    public float[] Query { get; } = new float[dimension];
    public HeadSearchScratch Heads { get; } = new(dimension);
    public int[] HeadIds { get; private set; } = [];
    public float[] HeadGoodness { get; private set; } = [];
    public float[] Scores { get; private set; } = new float[256];
    public HashSet<int> Seen { get; } = [];
    /// <summary>Bytes of the on-disk posting being scanned (grown as needed, reused across queries).</summary>
    public byte[] Buffer = new byte[64 * 1024];

    public void EnsureHeads(int n)
    {
        if (HeadIds.Length >= n) return;
        HeadIds = new int[n];
        HeadGoodness = new float[n];
    }

    public void EnsureScores(int n)
    {
        if (Scores.Length < n) Scores = new float[Math.Max(n, Scores.Length * 2)];
    }

    public TopKHeap Heap(int capacity)
    {
        if (_heap is null || _heap.Capacity != capacity) _heap = new TopKHeap(capacity);
        _heap.Clear();
        return _heap;
    }
}
