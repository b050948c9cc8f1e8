using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Graphs;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>
/// The heads of an <see cref="UpdatableSpannIndex"/> as one published, read-only view: head vectors (float32, in the
/// clustering geometry: unit length under cosine), which heads a split or merge removed, each head's current posting,
/// and the navigation graph. Head ids are never reused: a split appends its new heads and marks the old one removed.
/// The graph covers heads [0, GraphNodes); heads added after it are scanned exactly beside it, and removed heads stay
/// in the graph as waypoints but are never returned (the "deleted in the graph, small exact list beside it" scheme;
/// the rebuilder builds a new graph over all heads once the exact list passes a fraction of the graph).
/// Writers (holding the index's update lock) publish a new view when heads are added; posting slots and removed
/// flags change in place with volatile writes. Readers take a view once per operation and never block.
/// </summary>
internal sealed class HeadView
{
    public HeadView(int dimension, float[] vectors, bool[] removed, UpdatablePosting?[] postings, int count, NavigationGraph graph, int graphNodes)
    {
        Dimension = dimension;
        Vectors = vectors;
        Removed = removed;
        Postings = postings;
        Count = count;
        Graph = graph;
        GraphNodes = graphNodes;
        Entries = GraphNearest.StrideEntries(graphNodes);
    }

    public int Dimension { get; }
    public float[] Vectors { get; }
    public bool[] Removed { get; }
    public UpdatablePosting?[] Postings { get; }
    public int Count { get; }
    public NavigationGraph Graph { get; }
    public int GraphNodes { get; }
    public int[] Entries { get; }

    public ReadOnlySpan<float> Vector(int head) => Vectors.AsSpan(head * Dimension, Dimension);

    public bool IsLive(int head) => !Volatile.Read(ref Removed[head]);

    public UpdatablePosting? Posting(int head) => Volatile.Read(ref Postings[head]);

    public int LiveHeads
    {
        get { int n = 0; for (int h = 0; h < Count; h++) if (IsLive(h)) n++; return n; }
    }

    /// <summary>A view with one more head (arrays grown by doubling, shared with this view otherwise).</summary>
    public HeadView WithHead(ReadOnlySpan<float> vector, UpdatablePosting posting)
    {
        var vectors = Vectors;
        var removed = Removed;
        var postings = Postings;
        if (Count == postings.Length)
        {
            int capacity = Math.Max(16, Count * 2);
            Array.Resize(ref vectors, capacity * Dimension);
            Array.Resize(ref removed, capacity);
            Array.Resize(ref postings, capacity);
        }
        vector.CopyTo(vectors.AsSpan(Count * Dimension, Dimension));
        removed[Count] = false;
        Volatile.Write(ref postings[Count], posting);
        return new HeadView(Dimension, vectors, removed, postings, Count + 1, Graph, GraphNodes);
    }

    public HeadView WithGraph(NavigationGraph graph, int graphNodes) => new(Dimension, Vectors, Removed, Postings, Count, graph, graphNodes);

    public long ResidentBytes => (long)Postings.Length * (Dimension * 4 + 1 + 8) + Graph.ResidentBytes;

    /// <summary>
    /// The <paramref name="want"/> best live heads for <paramref name="query"/> (graph beam over the graph's heads plus
    /// an exact scan of the heads added since), best first; goodness is -squared L2 or, with <paramref name="dot"/>,
    /// the inner product. Returns how many were written.
    /// </summary>
    public int Nearest(ReadOnlySpan<float> query, int want, int beam, bool dot, HeadSearchScratch s, Span<int> ids, Span<float> goodness)
    {
        query.CopyTo(s.Query);
        var heap = s.Heap(want);
        if (GraphNodes > 0)
        {
            // Removed heads still fill beam slots, so ask the graph for more than wanted and drop them.
            int results = Math.Min(GraphNodes, Math.Max(beam, want * 2));
            s.Ensure(results);
            int found = dot
                ? GraphSearch(new Float32DotScorer { Nodes = Vectors, Query = s.Query, Dimension = Dimension }, Math.Max(beam, results), results, s)
                : GraphSearch(new Float32L2Scorer { Nodes = Vectors, Query = s.Query, Dimension = Dimension }, Math.Max(beam, results), results, s);
            for (int i = 0; i < found; i++)
                if (IsLive(s.Ids[i])) heap.Push(s.Ids[i], s.Goodness[i]);
        }
        for (int h = GraphNodes; h < Count; h++)
        {
            if (!IsLive(h)) continue;
            var row = Vector(h);
            heap.Push(h, dot ? DenseKernels.Dot(query, row) : -DenseKernels.SquaredL2(query, row));
        }
        return heap.DrainSorted(ids, goodness);
    }

    private int GraphSearch<TScorer>(TScorer scorer, int beam, int results, HeadSearchScratch s) where TScorer : struct, INodeScorer
    {
        // The graph was built over heads [0, GraphNodes): its node count bounds what it can return.
        return Graph.Search(ref scorer, beam, results, s.Graph, s.Ids, s.Goodness, Entries);
    }
}

/// <summary>Per-thread buffers of head searches.</summary>
internal sealed class HeadSearchScratch(int dimension)
{
    private TopKHeap? _heap;
    public float[] Query { get; } = new float[dimension];
    public int[] Ids { get; private set; } = [];
    public float[] Goodness { get; private set; } = [];
    public GraphSearchScratch Graph { get; } = new();

    public void Ensure(int n)
    {
        if (Ids.Length >= n) return;
        Ids = new int[n];
        Goodness = new float[n];
    }

    public TopKHeap Heap(int capacity)
    {
        if (_heap is null || _heap.Capacity != capacity) _heap = new TopKHeap(capacity);
        _heap.Clear();
        return _heap;
    }
}

/// <summary>Scores float32 nodes by inner product with the query (head selection of inner-product searches).</summary>
internal struct Float32DotScorer : INodeScorer
{
    public float[] Nodes;
    public float[] Query;
    public int Dimension;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Goodness(int node) =>
        RowKernel.Reduce<DotProductAccumulator, Float32Decoder, float>(ref MemoryMarshal.GetArrayDataReference(Query),
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Nodes), (nint)node * Dimension), Dimension);

    public readonly void Prefetch(int node) { }
}

/// <summary>
/// The builder's replica rules (<see cref="PostingAssigner"/>) for one vector: walk its candidate heads nearest first,
/// stop at the closure limit d(x, c_j) &lt;= (1 + eps1) d(x, c_1), skip c_j when an accepted c_i has
/// RngFactor * d(c_i, c_j) &lt; d(x, c_j), and keep at most R. Distances are squared L2 in head geometry.
/// </summary>
internal readonly struct ReplicaRule(int replicas, double closureEpsilon, double rngFactor)
{
    private readonly float _closureSquared = (float)((1 + closureEpsilon) * (1 + closureEpsilon));
    private readonly float _rngSquared = (float)(rngFactor * rngFactor);

    public int Replicas => replicas;

    /// <param name="candidates">Candidate heads, nearest first.</param>
    /// <param name="goodness">Their -squared L2 distances.</param>
    public int Select(HeadView view, ReadOnlySpan<int> candidates, ReadOnlySpan<float> goodness, Span<int> chosen)
    {
        if (candidates.IsEmpty) return 0;
        float limit = -goodness[0] * _closureSquared;
        int accepted = 0;
        for (int j = 0; j < candidates.Length && accepted < replicas; j++)
        {
            float dist = -goodness[j];
            if (dist > limit) break;
            int c = candidates[j];
            bool dominated = false;
            for (int a = 0; a < accepted; a++)
                if (_rngSquared * DenseKernels.SquaredL2(view.Vector(chosen[a]), view.Vector(c)) < dist) { dominated = true; break; }
            if (!dominated) chosen[accepted++] = c;
        }
        return accepted;
    }
}
