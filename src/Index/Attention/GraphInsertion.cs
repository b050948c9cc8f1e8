namespace Retrieval.Index.Attention;

/// <summary>
/// Inserts appended keys into an existing graph, one at a time, in position order (see
/// <see cref="AttentionHeadIndex.FoldAppended"/>), then repairs connectivity so every key stays reachable.
/// </summary>
internal static unsafe class GraphInsertion
{
    public static void InsertRange(KeyRows keys, KeyGraph graph, int first, int end, int beamWidth,
        BeamSearchScratch scratch)
    {
        int m = graph.Connectivity;
        int ef = Math.Max(beamWidth, m);
        var candidates = new int[ef];
        var candidateScores = new float[ef];
        var work = new float[Math.Max(ef, m + 1)];
        var selected = new int[m];
        var hosts = new ConnectivityRepair.HostSearch(end);
        var merged = new int[m + 1];
        var repruned = new int[m];
        for (int u = first; u < end; u++)
        {
            var key = new ReadOnlySpan<float>(keys.Row(u), keys.Dimension);
            GraphSearch.Run(graph, keys, key, ef, 0, int.MaxValue, scratch);
            int found = scratch.DrainTop(ef, candidates, candidateScores);
            if (found == 0) continue;
            int kept = RngPruning.Prune(keys, u, candidates.AsSpan(0, found), work.AsSpan(0, found), m, selected, fill: true);
            graph.SetNeighbors(u, selected.AsSpan(0, kept));
            bool linkedIn = false;
            for (int i = 0; i < kept; i++)
            {
                int c = selected[i];
                if (graph.TryAddEdge(c, u)) { linkedIn = true; continue; }
                if (RepruneWith(keys, graph, c, u, merged, work, repruned)) linkedIn = true;
            }
            // No list took it: hang it off a nearby node with a free slot; failing that, the repair below links it.
            if (!linkedIn) ConnectivityRepair.TryLinkToFreeSlot(graph, candidates.AsSpan(0, found), u, null, hosts);
        }
        ConnectivityRepair.Connect(keys, end, graph, beamWidth, 1, out _);
    }

    /// <summary>
    /// A full list is re-pruned with the new key offered (RoarGraph's overflow rule); returns whether it kept it.
    /// Edges the re-prune drops can cut keys off; the repair after the fold re-links them.
    /// </summary>
    private static bool RepruneWith(KeyRows keys, KeyGraph graph, int c, int u, int[] merged, float[] work,
        int[] repruned)
    {
        var current = graph.Neighbors(c);
        current.CopyTo(merged);
        merged[current.Length] = u;
        int n = current.Length + 1;
        int kept = RngPruning.Prune(keys, c, merged.AsSpan(0, n), work.AsSpan(0, n), graph.Connectivity, repruned, fill: true);
        var list = repruned.AsSpan(0, kept);
        graph.SetNeighbors(c, list);
        return list.Contains(u);
    }
}
