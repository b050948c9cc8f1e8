using Retrieval.Index.Search;

namespace Retrieval.Index.Sparse;

/// <summary>
/// Per-thread working memory of a Seismic search, allocated once and reused: the query scattered into a dense array
/// over the vocabulary (cleared entry by entry after each query), the visited-document bitset (cleared word by word
/// after each query), block score buffers sized for the longest list,
/// the query-cut ordering keys, a float16 conversion buffer and the heap.
/// </summary>
internal sealed class SeismicScratch
{
    public SeismicScratch(int vocabularySize, int documentCount, int maxBlocksPerList, int maxDocumentLength)
    {
        DenseQuery = new float[vocabularySize];
        Visited = new VisitedDocuments(documentCount);
        BlockScores = new float[Math.Max(1, maxBlocksPerList)];
        WeightSums = new float[Math.Max(1, maxBlocksPerList)];
        ValueBuffer = new float[Math.Max(1, maxDocumentLength)];
        CutKeys = new long[64];
        BlockOrder = new long[Math.Max(1, maxBlocksPerList)];
    }

    /// <summary>Block visiting order keys (summary score descending) for the best-first mode.</summary>
    public long[] BlockOrder { get; }

    public Span<long> BlockOrderFor(int blocks) => BlockOrder.AsSpan(0, blocks);

    public float[] DenseQuery { get; }
    public VisitedDocuments Visited { get; }
    public float[] BlockScores { get; }
    public float[] WeightSums { get; }
    public float[] ValueBuffer { get; }
    public long[] CutKeys { get; private set; }
    private TopKHeap? _heap;

    public TopKHeap HeapFor(int k)
    {
        if (_heap is null || _heap.Capacity != k) _heap = new TopKHeap(k);
        else _heap.Clear();
        return _heap;
    }

    public Span<long> CutKeysFor(int terms)
    {
        if (CutKeys.Length < terms) CutKeys = new long[Math.Max(terms, CutKeys.Length * 2)];
        return CutKeys.AsSpan(0, terms);
    }
}
