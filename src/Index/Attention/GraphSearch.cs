using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Retrieval.Index.Attention;

/// <summary>
/// Best-first beam search by inner product over a <see cref="KeyGraph"/> (the HNSW/NSG base-layer routine):
/// expand the best unexpanded candidate, score its unvisited neighbours, keep the best ef; stop when the best
/// candidate left cannot enter the beam. Positions in the static part (sink [0, sinkEnd) and window
/// [windowStart, ...)) are traversed — they are often the strongest keys and good stepping stones — but never
/// enter the results. Leaves the results in the scratch's result heap.
/// </summary>
internal static unsafe class GraphSearch
{
    public static void Run(KeyGraph graph, float[] keys, int dimension, ReadOnlySpan<float> query, int beamWidth,
        int sinkEnd, int windowStart, BeamSearchScratch scratch)
    {
        scratch.BeginSearch(graph.NodeCount, beamWidth);
        int scored = 0;
        foreach (int entry in graph.EntryPoints)
        {
            if (!scratch.Visit(entry)) continue;
            float s = Score(keys, dimension, query, entry);
            scored++;
            scratch.PushCandidate(entry, s);
            if (!IsStatic(entry, sinkEnd, windowStart)) scratch.PushResult(entry, s);
        }
        bool prefetch = Sse.IsSupported;
        int rowBytes = dimension * sizeof(float);
        fixed (float* keyBase = keys)
        {
            while (scratch.CandidateCount > 0)
            {
                int node = scratch.PopCandidate(out float nodeScore);
                if (nodeScore < scratch.ResultThreshold) break;
                var neighbors = graph.Neighbors(node);
                if (prefetch)
                {
                    // The keys of a neighbour list sit at random places in a cache far larger than L2: ask for all
                    // of them before scoring the first, so the misses overlap instead of queueing.
                    foreach (int neighbor in neighbors)
                    {
                        byte* row = (byte*)(keyBase + (long)neighbor * dimension);
                        for (int offset = 0; offset < rowBytes; offset += 64) Sse.Prefetch0(row + offset);
                    }
                }
                foreach (int neighbor in neighbors)
                {
                    if (!scratch.Visit(neighbor)) continue;
                    float s = Score(keys, dimension, query, neighbor);
                    scored++;
                    if (s <= scratch.ResultThreshold) continue;
                    scratch.PushCandidate(neighbor, s);
                    if (!IsStatic(neighbor, sinkEnd, windowStart)) scratch.PushResult(neighbor, s);
                }
            }
        }
        scratch.LastKeysScored = scored;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsStatic(int position, int sinkEnd, int windowStart) => position < sinkEnd || position >= windowStart;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Score(float[] keys, int dimension, ReadOnlySpan<float> query, int position) =>
        TensorPrimitives.Dot(query, new ReadOnlySpan<float>(keys, position * dimension, dimension));
}
