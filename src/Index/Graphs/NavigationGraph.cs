using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Graphs;

/// <summary>Scores one graph node against the current query; higher is better (negated distance for L2).</summary>
internal interface INodeScorer
{
    float Goodness(int node);

    /// <summary>Hints that <paramref name="node"/> will be scored soon (a prefetch of its row); may do nothing.</summary>
    void Prefetch(int node);
}

/// <summary>
/// A proximity graph over a set of nodes (SPANN's in-memory navigation index over heads): fixed out-degree,
/// edges chosen by Vamana's robust pruning (an RNG relaxed by alpha) over the exact nearest candidates, plus
/// reverse edges and a connectivity repair, so a best-first beam search from one entry point reaches every node.
/// </summary>
internal sealed class NavigationGraph
{
    private readonly int[] _adjacency;

    public NavigationGraph(int nodeCount, int degree, int entryPoint, int[] adjacency)
    {
        if (adjacency.Length != (long)nodeCount * degree) throw new ArgumentException("adjacency must be nodeCount x degree", nameof(adjacency));
        NodeCount = nodeCount;
        Degree = degree;
        EntryPoint = entryPoint;
        _adjacency = adjacency;
    }

    public int NodeCount { get; }
    public int Degree { get; }
    public int EntryPoint { get; }
    public long ResidentBytes => (long)_adjacency.Length * sizeof(int);

    /// <summary>Out-neighbours of <paramref name="node"/>, padded with -1.</summary>
    public ReadOnlySpan<int> Neighbours(int node) => _adjacency.AsSpan(node * Degree, Degree);

    /// <summary>
    /// Best-first beam search: the <paramref name="resultCount"/> best nodes found with a beam of
    /// <paramref name="beamWidth"/> (ef), best first. Returns how many were written.
    /// </summary>
    public int Search<TScorer>(ref TScorer scorer, int beamWidth, int resultCount, GraphSearchScratch scratch,
        Span<int> nodes, Span<float> goodness)
        where TScorer : struct, INodeScorer =>
        Search(ref scorer, beamWidth, resultCount, scratch, nodes, goodness, [EntryPoint]);

    /// <summary>
    /// Beam search seeded with <paramref name="entries"/> (all scored; the best fill the beam) instead of the
    /// single medoid entry: a query starting near its answer spends its evaluations there, not on the approach.
    /// </summary>
    public int Search<TScorer>(ref TScorer scorer, int beamWidth, int resultCount, GraphSearchScratch scratch,
        Span<int> nodes, Span<float> goodness, ReadOnlySpan<int> entries)
        where TScorer : struct, INodeScorer
    {
        int beam = Math.Max(beamWidth, resultCount);
        scratch.Prepare(NodeCount, beam);
        if (NodeCount == 0) return 0;
        var poolIds = scratch.PoolIds;
        var poolGood = scratch.PoolGoodness;
        var expanded = scratch.Expanded;
        var visited = scratch.Visited;
        var pending = scratch.Pending;
        int epoch = scratch.NextEpoch();
        long evaluations = 0;

        int size = 0;
        foreach (int entry in entries)
        {
            if ((uint)entry >= (uint)NodeCount || visited[entry] == epoch) continue;
            visited[entry] = epoch;
            float g = scorer.Goodness(entry);
            evaluations++;
            if (size == beam && g <= poolGood[size - 1]) continue;
            Insert(poolIds, poolGood, expanded, ref size, beam, entry, g);
        }
        if (size == 0)
        {
            visited[EntryPoint] = epoch;
            poolIds[0] = EntryPoint;
            poolGood[0] = scorer.Goodness(EntryPoint);
            expanded[0] = false;
            evaluations++;
            size = 1;
        }
        int cursor = 0;
        ref int adjacency = ref MemoryMarshal.GetArrayDataReference(_adjacency);
        while (cursor < size)
        {
            if (expanded[cursor]) { cursor++; continue; }
            expanded[cursor] = true;
            int node = poolIds[cursor];
            int lowestInsert = size;
            // Gather the unvisited neighbours first and touch their rows, so the row loads overlap instead of
            // each distance waiting on its own cache misses.
            int fresh = 0;
            ref int edges = ref Unsafe.Add(ref adjacency, (nint)node * Degree);
            for (int e = 0; e < Degree; e++)
            {
                int next = Unsafe.Add(ref edges, e);
                if (next < 0) break;
                if (visited[next] == epoch) continue;
                visited[next] = epoch;
                pending[fresh++] = next;
                scorer.Prefetch(next);
            }
            evaluations += fresh;
            for (int i = 0; i < fresh; i++)
            {
                int next = pending[i];
                float g = scorer.Goodness(next);
                if (size == beam && g <= poolGood[size - 1]) continue;
                int at = Insert(poolIds, poolGood, expanded, ref size, beam, next, g);
                if (at < lowestInsert) lowestInsert = at;
            }
            cursor = lowestInsert <= cursor ? lowestInsert : cursor + 1;
        }
        scratch.Evaluations += evaluations;
        int n = Math.Min(resultCount, size);
        poolIds.AsSpan(0, n).CopyTo(nodes);
        poolGood.AsSpan(0, n).CopyTo(goodness);
        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Insert(int[] ids, float[] good, bool[] expanded, ref int size, int capacity, int id, float g)
    {
        int pos = size;
        while (pos > 0 && (good[pos - 1] < g || (good[pos - 1] == g && ids[pos - 1] > id))) pos--;
        int last = Math.Min(size, capacity - 1);
        for (int i = last; i > pos; i--)
        {
            ids[i] = ids[i - 1];
            good[i] = good[i - 1];
            expanded[i] = expanded[i - 1];
        }
        ids[pos] = id;
        good[pos] = g;
        expanded[pos] = false;
        if (size < capacity) size++;
        return pos;
    }

    public byte[] Serialize()
    {
        var bytes = new byte[12 + _adjacency.Length * 4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, NodeCount);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), Degree);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), EntryPoint);
        Buffer.BlockCopy(_adjacency, 0, bytes, 12, _adjacency.Length * 4);
        return bytes;
    }

    public static NavigationGraph Deserialize(string path, byte[] payload, int expectedNodes)
    {
        if (payload.Length < 12) throw new DataFormatException(path, $"graph payload of {payload.Length} bytes is shorter than its 12-byte header");
        int nodes = BinaryPrimitives.ReadInt32LittleEndian(payload);
        int degree = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(4));
        int entry = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(8));
        if (nodes != expectedNodes || degree < 1 || payload.Length != 12 + (long)nodes * degree * 4 || entry < 0 || entry >= Math.Max(1, nodes))
            throw new DataFormatException(path, $"graph header says {nodes} nodes of degree {degree}, entry {entry}, in {payload.Length} bytes; expected {expectedNodes} nodes");
        var adjacency = new int[nodes * degree];
        Buffer.BlockCopy(payload, 12, adjacency, 0, adjacency.Length * 4);
        foreach (int v in adjacency)
            if (v < -1 || v >= nodes) throw new DataFormatException(path, $"edge to node {v} outside 0..{nodes - 1}");
        return new NavigationGraph(nodes, degree, entry, adjacency);
    }
}

/// <summary>Per-thread buffers of a graph search; the visited set is stamped with an epoch, never cleared.</summary>
internal sealed class GraphSearchScratch
{
    private int _epoch;

    public int[] Visited { get; private set; } = [];
    public int[] PoolIds { get; private set; } = [];
    public float[] PoolGoodness { get; private set; } = [];
    public bool[] Expanded { get; private set; } = [];
    /// <summary>Unvisited neighbours of the node being expanded (at most the degree).</summary>
    public int[] Pending { get; private set; } = [];
    /// <summary>Node scorings by all searches with this scratch (the navigation cost, in distance evaluations).</summary>
    public long Evaluations { get; set; }

    public void Prepare(int nodes, int beam)
    {
        if (Visited.Length < nodes) { Visited = new int[nodes]; _epoch = 0; }
        if (Pending.Length < 256) Pending = new int[256];
        if (PoolIds.Length < beam)
        {
            PoolIds = new int[beam];
            PoolGoodness = new float[beam];
            Expanded = new bool[beam];
        }
    }

    public int NextEpoch()
    {
        if (++_epoch == int.MaxValue)
        {
            Array.Clear(Visited);
            _epoch = 1;
        }
        return _epoch;
    }
}
