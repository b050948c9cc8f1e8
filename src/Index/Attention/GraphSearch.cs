using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retrieval.Index.Attention;

/// <summary>
/// Best-first beam search by inner product over a <see cref="KeyGraph"/> (the HNSW/NSG base-layer routine):
/// expand the best unexpanded entry of the beam, score its unvisited neighbours, keep the best ef; stop when
/// every entry of the beam has been expanded. Positions in the static part (sink [0, sinkEnd) and window
/// [windowStart, ...)) are traversed — they are often the strongest keys and good stepping stones — but never
/// enter the results. Leaves the results in the scratch's beam.
/// </summary>
internal static unsafe class GraphSearch
{
    public static void Run(KeyGraph graph, KeyRows keys, ReadOnlySpan<float> query, int beamWidth,
        int sinkEnd, int windowStart, BeamSearchScratch scratch)
    {
        scratch.BeginSearch(graph.NodeCount, beamWidth, sinkEnd, windowStart);
        int m = graph.Connectivity;
        int dimension = keys.Dimension;
        var adjacency = graph.Rows;
        ushort[] visited = scratch.VisitedArray;
        ushort epoch = scratch.Epoch;
        int rowBytes = dimension * sizeof(float);
        int scored = 0;
        int* fresh = stackalloc int[m];
        // Four keys per kernel call share the horizontal sums, which saves CPU per search.
        bool quad = Avx.IsSupported && dimension % 8 == 0;
        fixed (float* q = query)
        fixed (ushort* seen = visited)
        {
            var entries = graph.EntryPoints;
            for (int e = 0; e < entries.Length; e++)
            {
                int entry = entries[e];
                if (seen[entry] == epoch) continue;
                seen[entry] = epoch;
                scratch.Insert(entry, KeyDot.Dot(q, keys.Row(entry), dimension));
                scored++;
            }
            while (true)
            {
                int node = scratch.NextToExpand();
                if (node < 0) break;
                int* list = adjacency.Row(node);
                // Filter without branches (about half the neighbours were seen already, a coin flip the branch
                // predictor loses), then prefetch only the rows that will be scored, so their misses overlap.
                int n = 0;
                for (int i = 0; i < m; i++)
                {
                    int neighbor = list[i];
                    if (neighbor < 0) break;
                    int isNew = seen[neighbor] != epoch ? 1 : 0;
                    seen[neighbor] = epoch;
                    fresh[n] = neighbor;
                    n += isNew;
                }
                for (int i = 0; i < n; i++) KeyDot.PrefetchAligned(keys.Row(fresh[i]), rowBytes);
                // The next expansion's adjacency row is needed right after this one.
                int next = scratch.PeekNext();
                if (Sse.IsSupported && next >= 0) Sse.Prefetch0(adjacency.Row(next));
                scored += n;
                float threshold = scratch.Threshold;
                int start = 0;
                if (quad)
                {
                    for (; start + 4 <= n; start += 4)
                    {
                        int n0 = fresh[start], n1 = fresh[start + 1], n2 = fresh[start + 2], n3 = fresh[start + 3];
                        var s4 = KeyDot.Dot4(q, keys.Row(n0), keys.Row(n1), keys.Row(n2), keys.Row(n3), dimension);
                        if (Vector128.GreaterThanAny(s4, Vector128.Create(threshold)))
                        {
                            float s0 = s4.GetElement(0), s1 = s4.GetElement(1), s2 = s4.GetElement(2), s3 = s4.GetElement(3);
                            if (s0 > threshold) { scratch.Insert(n0, s0); threshold = scratch.Threshold; }
                            if (s1 > threshold) { scratch.Insert(n1, s1); threshold = scratch.Threshold; }
                            if (s2 > threshold) { scratch.Insert(n2, s2); threshold = scratch.Threshold; }
                            if (s3 > threshold) { scratch.Insert(n3, s3); threshold = scratch.Threshold; }
                        }
                    }
                }
                for (int i = start; i < n; i++)
                {
                    int neighbor = fresh[i];
                    float s = KeyDot.Dot(q, keys.Row(neighbor), dimension);
                    if (s <= threshold) continue;
                    scratch.Insert(neighbor, s);
                    threshold = scratch.Threshold;
                }
            }
        }
        scratch.LastKeysScored = scored;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsStatic(int position, int sinkEnd, int windowStart) => position < sinkEnd || position >= windowStart;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Score(KeyRows keys, ReadOnlySpan<float> query, int position)
    {
        fixed (float* q = query)
            return KeyDot.Dot(q, keys.Row(position), keys.Dimension);
    }
}
