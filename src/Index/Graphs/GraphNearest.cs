using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Graphs;

/// <summary>Scores float32 nodes by negated squared L2 distance to a float32 query (build-time navigation).</summary>
internal struct Float32L2Scorer : INodeScorer
{
    public float[] Nodes;
    public float[] Query;
    public int Dimension;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Goodness(int node) =>
        -RowKernel.Reduce<SquaredL2Accumulator, Float32Decoder, float>(ref MemoryMarshal.GetArrayDataReference(Query),
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Nodes), (nint)node * Dimension), Dimension);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly unsafe void Prefetch(int node)
    {
        if (!Sse.IsSupported) return;
        float* row = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Nodes), (nint)node * Dimension));
        int bytes = Math.Min(Dimension * sizeof(float), 256);
        for (int at = 0; at < bytes; at += 64) Sse.Prefetch0((byte*)row + at);
    }
}

/// <summary>
/// Approximate "k nearest nodes of many rows" through a navigation graph: one seeded beam search per row, in
/// parallel. The graph-guided replacement for an exact scan of every node when there are many (SPANN's posting
/// assignment against 10^4-10^5 heads): cost per row grows with the beam, not with the node count.
/// </summary>
internal static class GraphNearest
{
    /// <summary>About sqrt(n)/2 nodes spread over 0..n-1: seeds for a search over nodes stored in no particular spatial order.</summary>
    public static int[] StrideEntries(int nodeCount)
    {
        int n = Math.Clamp((int)Math.Round(0.5 * Math.Sqrt(nodeCount)), 1, Math.Max(1, nodeCount));
        var entries = new int[Math.Min(n, nodeCount)];
        for (int i = 0; i < entries.Length; i++) entries[i] = (int)((long)i * nodeCount / entries.Length);
        return entries;
    }

    /// <summary>
    /// Ids and squared L2 distances of each row's <paramref name="k"/> nearest nodes found with a beam of
    /// <paramref name="beamWidth"/>, nearest first (padded with -1 / +infinity if the graph has fewer nodes).
    /// </summary>
    public static SearchResults Find(NavigationGraph graph, float[] nodes, DenseVectors rows, int k, int beamWidth, int threads)
    {
        if (rows.ElementType != ElementType.Float32) throw new ArgumentException("rows must be float32", nameof(rows));
        int rowCount = rows.Count, dimension = rows.Dimension;
        k = Math.Min(k, graph.NodeCount);
        var results = new SearchResults(rowCount, k);
        var entries = StrideEntries(graph.NodeCount);
        Parallel.For(0, rowCount, new ParallelOptions { MaxDegreeOfParallelism = threads },
            () => new Worker(dimension, Math.Max(k, beamWidth)),
            (r, _, w) =>
            {
                rows.Float32Row(r).CopyTo(w.Query);
                var scorer = new Float32L2Scorer { Nodes = nodes, Query = w.Query, Dimension = dimension };
                int found = graph.Search(ref scorer, beamWidth, k, w.Scratch, w.Ids, w.Goodness, entries);
                var ids = results.IdsOf(r);
                var scores = results.ScoresOf(r);
                for (int i = 0; i < k; i++)
                {
                    ids[i] = i < found ? w.Ids[i] : -1;
                    scores[i] = i < found ? -w.Goodness[i] : float.PositiveInfinity;
                }
                return w;
            },
            _ => { });
        return results;
    }

    private sealed class Worker(int dimension, int beam)
    {
        public readonly float[] Query = new float[dimension];
        public readonly int[] Ids = new int[beam];
        public readonly float[] Goodness = new float[beam];
        public readonly GraphSearchScratch Scratch = new();
    }
}
