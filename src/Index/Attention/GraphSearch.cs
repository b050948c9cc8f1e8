using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Retrieval.Index.Attention;

/// <summary>
/// Best-first beam search by inner product over a <see cref="KeyGraph"/> (the HNSW/NSG base-layer routine):
/// expand the best unexpanded candidate, score its unvisited neighbours, keep the best ef; stop when the best
/// candidate left cannot enter the beam. Positions in the static part (sink [0, sinkEnd) and window
/// [windowStart, ...)) are traversed — they are often the strongest keys and good stepping stones — but never
/// enter the results. Leaves the results in the scratch's result heap.
/// </summary>
internal static class GraphSearch
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
        while (scratch.CandidateCount > 0)
        {
            int node = scratch.PopCandidate(out float nodeScore);
            if (nodeScore < scratch.ResultThreshold) break;
            foreach (int neighbor in graph.Neighbors(node))
            {
                if (!scratch.Visit(neighbor)) continue;
                float s = Score(keys, dimension, query, neighbor);
                scored++;
                if (s <= scratch.ResultThreshold) continue;
                scratch.PushCandidate(neighbor, s);
                if (!IsStatic(neighbor, sinkEnd, windowStart)) scratch.PushResult(neighbor, s);
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
