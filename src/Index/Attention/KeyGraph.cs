using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Retrieval.Index.Attention;

/// <summary>
/// Directed graph over key positions with out-degree at most <see cref="Connectivity"/> (M), and the entry points
/// every search starts from. A query head's graph lives in a slot of its KV head's <see cref="NodeBlock"/> (its
/// neighbour list beside each key, one key copy for all query heads of the group); a standalone graph (the
/// builder's intermediate projection) owns a flat NodeCount x M table. Lists end at the first -1 or after M
/// entries. Grows when appended keys join the graph.
/// </summary>
internal sealed unsafe class KeyGraph
{
    private readonly NodeBlock? _block;
    private readonly int _slot = -1;
    private readonly int _slotOffset;
    private int[] _own = [];
    // Degrees beside the lists (which also end at -1): the builder and inserters ask for them constantly; the
    // search never reads them.
    private ushort[] _degrees = [];
    private int[] _entryPoints = [];

    /// <summary>A standalone graph of <paramref name="nodeCount"/> nodes with no edges.</summary>
    public KeyGraph(int nodeCount, int connectivity)
    {
        Connectivity = connectivity;
        GrowOwn(nodeCount);
        GrowDegrees(nodeCount);
        NodeCount = nodeCount;
    }

    /// <summary>A graph in a new slot of <paramref name="store"/>'s node block (re-lays the block out).</summary>
    internal KeyGraph(KeyValueStore store, int connectivity, int nodeCount)
    {
        Connectivity = connectivity;
        _block = store.Block;
        _slot = _block.AttachSlot(connectivity);
        _slotOffset = _block.SlotOffset(_slot);
        GrowDegrees(nodeCount);
        NodeCount = nodeCount;
    }

    /// <summary>M: the out-degree bound.</summary>
    public int Connectivity { get; }

    public int NodeCount { get; private set; }

    public ReadOnlySpan<int> EntryPoints => _entryPoints;

    public long MemoryBytes => (_block is null ? (long)_own.Length * sizeof(int) : _block.SlotBytes(_slot))
        + (long)_degrees.Length * sizeof(ushort) + (long)_entryPoints.Length * sizeof(int);

    /// <summary>Raw neighbour rows; valid until the next append or graph attach on the KV head.</summary>
    internal AdjacencyRows Rows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _block is null
            ? new AdjacencyRows((byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_own)), Connectivity * sizeof(int))
            : new AdjacencyRows(_block.Base + _slotOffset, _block.StrideBytes);
    }

    public ReadOnlySpan<int> Neighbors(int node) => new(Rows.Row(node), Degree(node));

    public int Degree(int node)
    {
        CheckNode(node);
        return _degrees[node];
    }

    /// <summary>All M slots of a node's list (entries past its degree are -1).</summary>
    internal Span<int> NeighborSlots(int node)
    {
        CheckNode(node);
        return new(Rows.Row(node), Connectivity);
    }

    internal void SetNeighbors(int node, ReadOnlySpan<int> neighbors)
    {
        if (neighbors.Length > Connectivity) throw new InvalidOperationException($"node {node}: {neighbors.Length} neighbours exceed M = {Connectivity}");
        var slots = NeighborSlots(node);
        neighbors.CopyTo(slots);
        slots[neighbors.Length..].Fill(-1);
        _degrees[node] = (ushort)neighbors.Length;
    }

    /// <summary>Adds an edge if the node has a free slot and the edge is new; returns whether it was added.</summary>
    internal bool TryAddEdge(int from, int to)
    {
        int degree = Degree(from);
        if (degree >= Connectivity) return false;
        var slots = NeighborSlots(from);
        if (slots[..degree].Contains(to)) return false;
        slots[degree] = to;
        _degrees[from] = (ushort)(degree + 1);
        return true;
    }

    internal void SetEntryPoints(ReadOnlySpan<int> entryPoints) => _entryPoints = entryPoints.ToArray();

    internal void AddEntryPoint(int node)
    {
        Array.Resize(ref _entryPoints, _entryPoints.Length + 1);
        _entryPoints[^1] = node;
    }

    /// <summary>
    /// Grows to <paramref name="nodeCount"/> nodes; the new ones start with no edges. A slot graph covers positions
    /// its store already holds (appended rows arrive with empty lists).
    /// </summary>
    internal void Grow(int nodeCount)
    {
        if (nodeCount <= NodeCount) return;
        GrowDegrees(nodeCount);
        if (_block is null) GrowOwn(nodeCount);
        else if (nodeCount > _block.Capacity) throw new InvalidOperationException($"graph of {nodeCount} nodes over a block of {_block.Capacity} positions");
        NodeCount = nodeCount;
    }

    /// <summary>Gives this graph's slot back to its node block; the graph must not be used afterwards.</summary>
    internal void Release()
    {
        if (_block is not null && _slot >= 0) _block.ReleaseSlot(_slot);
    }

    private void GrowDegrees(int nodeCount)
    {
        if (nodeCount <= _degrees.Length) return;
        Array.Resize(ref _degrees, Math.Max(nodeCount, _degrees.Length + _degrees.Length / 2));
    }

    private void GrowOwn(int nodeCount)
    {
        long needed = (long)nodeCount * Connectivity;
        if (needed <= _own.Length) return;
        long capacity = Math.Max(needed, _own.Length + _own.Length / 2);
        var grown = GC.AllocateUninitializedArray<int>(checked((int)capacity), pinned: true);
        _own.CopyTo(grown, 0);
        grown.AsSpan(_own.Length).Fill(-1);
        _own = grown;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckNode(int node)
    {
        if ((uint)node >= (uint)NodeCount) throw new ArgumentOutOfRangeException(nameof(node), node, $"the graph has {NodeCount} nodes");
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
