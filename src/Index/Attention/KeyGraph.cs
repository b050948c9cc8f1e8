using System.Runtime.CompilerServices;

namespace Retrieval.Index.Attention;

/// <summary>
/// Directed graph over key positions with out-degree at most <see cref="Connectivity"/> (M): a flat
/// NodeCount x M neighbour table plus a degree per node (struct-of-arrays, no per-node objects), and the
/// entry points every search starts from. Grows when appended keys are folded in.
/// </summary>
public sealed class KeyGraph
{
    private int[] _neighbors;
    private int[] _degrees;
    private int[] _entryPoints;

    public KeyGraph(int nodeCount, int connectivity)
    {
        Connectivity = connectivity;
        NodeCount = nodeCount;
        _neighbors = new int[checked(nodeCount * connectivity)];
        _degrees = new int[nodeCount];
        _entryPoints = [];
    }

    /// <summary>M: the out-degree bound.</summary>
    public int Connectivity { get; }

    public int NodeCount { get; private set; }

    public ReadOnlySpan<int> EntryPoints => _entryPoints;

    public long MemoryBytes => ((long)_neighbors.Length + _degrees.Length + _entryPoints.Length) * sizeof(int);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<int> Neighbors(int node) => new(_neighbors, node * Connectivity, _degrees[node]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Degree(int node) => _degrees[node];

    /// <summary>The flat NodeCount x M adjacency table (slots past a node's degree are garbage).</summary>
    internal int[] AdjacencyArray => _neighbors;

    internal int[] DegreeArray => _degrees;

    internal Span<int> NeighborSlots(int node) => new(_neighbors, node * Connectivity, Connectivity);

    internal void SetNeighbors(int node, ReadOnlySpan<int> neighbors)
    {
        if (neighbors.Length > Connectivity) throw new InvalidOperationException($"node {node}: {neighbors.Length} neighbours exceed M = {Connectivity}");
        neighbors.CopyTo(NeighborSlots(node));
        _degrees[node] = neighbors.Length;
    }

    /// <summary>Adds an edge if the node has a free slot and the edge is new; returns whether it was added.</summary>
    internal bool TryAddEdge(int from, int to)
    {
        int degree = _degrees[from];
        if (degree >= Connectivity) return false;
        var slots = NeighborSlots(from);
        if (slots[..degree].Contains(to)) return false;
        slots[degree] = to;
        _degrees[from] = degree + 1;
        return true;
    }

    internal void SetEntryPoints(ReadOnlySpan<int> entryPoints) => _entryPoints = entryPoints.ToArray();

    internal void AddEntryPoint(int node)
    {
        Array.Resize(ref _entryPoints, _entryPoints.Length + 1);
        _entryPoints[^1] = node;
    }

    /// <summary>Grows to <paramref name="nodeCount"/> nodes; the new ones start with no edges.</summary>
    internal void Grow(int nodeCount)
    {
        if (nodeCount <= NodeCount) return;
        if (nodeCount > _degrees.Length)
        {
            int capacity = Math.Max(nodeCount, _degrees.Length + _degrees.Length / 2);
            Array.Resize(ref _degrees, capacity);
            Array.Resize(ref _neighbors, checked(capacity * Connectivity));
        }
        NodeCount = nodeCount;
    }

    /// <summary>Marks every node reachable from the entry points (breadth first); returns how many were reached.</summary>
    public int MarkReachable(Span<bool> reached)
    {
        reached.Clear();
        var queue = new int[NodeCount];
        int head = 0, tail = 0;
        foreach (int e in _entryPoints)
        {
            if (!reached[e]) { reached[e] = true; queue[tail++] = e; }
        }
        while (head < tail) tail = Expand(queue[head++], reached, queue, tail);
        return tail;
    }

    /// <summary>Continues a breadth-first marking from <paramref name="start"/>; returns how many new nodes were reached.</summary>
    internal int MarkReachableFrom(int start, Span<bool> reached, int[] queue)
    {
        if (reached[start]) return 0;
        reached[start] = true;
        int head = 0, tail = 0;
        queue[tail++] = start;
        while (head < tail) tail = Expand(queue[head++], reached, queue, tail);
        return tail;
    }

    private int Expand(int node, Span<bool> reached, int[] queue, int tail)
    {
        foreach (int n in Neighbors(node))
        {
            if (!reached[n]) { reached[n] = true; queue[tail++] = n; }
        }
        return tail;
    }
}
