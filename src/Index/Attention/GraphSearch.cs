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
        int m = graph.Connectivity;
        int[] adjacency = graph.AdjacencyArray;
        int[] degrees = graph.DegreeArray;
        ushort[] visited = scratch.VisitedArray;
        ushort epoch = scratch.Epoch;
        int rowBytes = dimension * sizeof(float);
        int scored = 0;
        int* fresh = stackalloc int[m];
        fixed (float* keyBase = keys)
        fixed (float* q = query)
        fixed (int* adj = adjacency)
        fixed (int* deg = degrees)
        fixed (ushort* seen = visited)
        {
            var entries = graph.EntryPoints;
            for (int e = 0; e < entries.Length; e++) KeyDot.Prefetch(keyBase + (long)entries[e] * dimension, rowBytes);
            for (int e = 0; e < entries.Length; e++)
            {
                int entry = entries[e];
                if (seen[entry] == epoch) continue;
                seen[entry] = epoch;
                float s = KeyDot.Dot(q, keyBase + (long)entry * dimension, dimension);
                scored++;
                scratch.PushCandidate(entry, s);
                if (!IsStatic(entry, sinkEnd, windowStart)) scratch.PushResult(entry, s);
            }
            while (scratch.CandidateCount > 0)
            {
                int node = scratch.PopCandidate(out float nodeScore);
                float threshold = scratch.ResultThreshold;
                if (nodeScore < threshold) break;
                int* list = adj + (long)node * m;
                int degree = deg[node];
                // Filter first, then prefetch only the rows that will be scored: visited neighbours cost no memory
                // traffic, and the misses of the fresh ones overlap instead of queueing.
                int n = 0;
                for (int i = 0; i < degree; i++)
                {
                    int neighbor = list[i];
                    if (seen[neighbor] == epoch) continue;
                    seen[neighbor] = epoch;
                    fresh[n++] = neighbor;
                    KeyDot.Prefetch(keyBase + (long)neighbor * dimension, rowBytes);
                }
                // The next expansion's adjacency row is needed right after this one.
                if (Sse.IsSupported && scratch.CandidateCount > 0)
                    Sse.Prefetch0(adj + (long)scratch.TopCandidate * m);
                scored += n;
                for (int i = 0; i < n; i++)
                {
                    int neighbor = fresh[i];
                    float s = KeyDot.Dot(q, keyBase + (long)neighbor * dimension, dimension);
                    if (s <= threshold) continue;
                    scratch.PushCandidate(neighbor, s);
                    if (!IsStatic(neighbor, sinkEnd, windowStart))
                    {
                        scratch.PushResult(neighbor, s);
                        threshold = scratch.ResultThreshold;
                    }
                }
            }
        }
        scratch.LastKeysScored = scored;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsStatic(int position, int sinkEnd, int windowStart) => position < sinkEnd || position >= windowStart;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Score(float[] keys, int dimension, ReadOnlySpan<float> query, int position)
    {
        fixed (float* k = &keys[position * dimension])
        fixed (float* q = query)
            return KeyDot.Dot(q, k, dimension);
    }
}
