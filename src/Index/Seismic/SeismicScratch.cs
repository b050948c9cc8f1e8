using Retrieval.Index.Search;

namespace Retrieval.Index.Seismic;

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

    private long[] _globalKeys = new long[256];
    private float[] _globalScores = new float[256];

    /// <summary>Block keys of every visited list (global best-first order); grows to the largest query seen.</summary>
    public Span<long> GlobalKeysFor(int blocks)
    {
        if (_globalKeys.Length < blocks) _globalKeys = new long[Math.Max(blocks, _globalKeys.Length * 2)];
        return _globalKeys.AsSpan(0, blocks);
    }

    /// <summary>Summary scores of every visited list's blocks, list after list (global best-first order).</summary>
    public Span<float> GlobalScoresFor(int blocks)
    {
        if (_globalScores.Length < blocks) _globalScores = new float[Math.Max(blocks, _globalScores.Length * 2)];
        return _globalScores.AsSpan(0, blocks);
    }

    /// <summary>Located summary runs of the query's cut lists (see <see cref="SummaryLocation"/>); grows to the largest query seen.</summary>
    public SummaryRun[] SummaryRuns { get; private set; } = new SummaryRun[256];

    /// <summary>Cut slot c owns [RunStarts[c], RunStarts[c+1]) of <see cref="SummaryRuns"/> (one run per query term at most).</summary>
    public int[] RunStarts { get; private set; } = new int[65];

    /// <summary>The runs array with room for at least <paramref name="runs"/>, keeping what it holds.</summary>
    public SummaryRun[] SummaryRunsFor(int runs)
    {
        if (SummaryRuns.Length < runs)
        {
            var grown = new SummaryRun[Math.Max(runs, SummaryRuns.Length * 2)];
            SummaryRuns.CopyTo(grown, 0);
            SummaryRuns = grown;
        }
        return SummaryRuns;
    }

    /// <summary>Cut slot c's located runs are [RunStarts[c], RunEnds[c]) (the query terms its list's summaries hold).</summary>
    public int[] RunEnds { get; private set; } = new int[65];

    /// <summary>Run start offsets for <paramref name="cut"/> lists (cut + 1 entries); <see cref="RunEnds"/> grows with them.</summary>
    public int[] RunStartsFor(int cut)
    {
        if (RunStarts.Length < cut + 1)
        {
            RunStarts = new int[Math.Max(cut + 1, RunStarts.Length * 2)];
            RunEnds = new int[RunStarts.Length];
        }
        return RunStarts;
    }

    public float[] DenseQuery { get; }
    /// <summary>The query prepared for gather-free scoring of 16-bit-term rows (see <see cref="QueryLanes"/>).</summary>
    public QueryLanes Lanes { get; } = new();
    public VisitedDocuments Visited { get; }
    public float[] BlockScores { get; }
    public float[] WeightSums { get; }
    public float[] ValueBuffer { get; }
    public long[] CutKeys { get; private set; }
    private TopKHeap? _heap;


    private int[] _refineMembers = [];
    private int[] _refineRows = [];
    private uint[] _refineRefs = [];

    /// <summary>
    /// kNN refinement buffers: each heap member's first graph slot, and the candidate neighbour rows with their row
    /// references; grown to k and k x kappa on first use, then reused.
    /// </summary>
    public (int[] Members, int[] Rows, uint[] Refs) RefineBuffers(int k, int kappa)
    {
        if (_refineMembers.Length < k) _refineMembers = new int[k];
        int slots = k * kappa;
        if (_refineRows.Length < slots)
        {
            _refineRows = new int[slots];
            _refineRefs = new uint[slots];
        }
        return (_refineMembers, _refineRows, _refineRefs);
    }

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
