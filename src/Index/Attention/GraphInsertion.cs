namespace Retrieval.Index.Attention;

/// <summary>
/// Inserts appended keys into an existing graph, one at a time, in position order (see
/// <see cref="AttentionHeadIndex.FoldAppended"/>), then repairs connectivity so every key stays reachable.
/// </summary>
internal static class GraphInsertion
{
    public static void InsertRange(float[] keys, int dimension, KeyGraph graph, int first, int end, int beamWidth,
        BeamSearchScratch scratch)
    {
        int m = graph.Connectivity;
        int ef = Math.Max(beamWidth, m);
        var candidates = new int[ef];
        var candidateScores = new float[ef];
        var work = new float[Math.Max(ef, m + 1)];
        var selected = new int[m];
        var merged = new int[m + 1];
        var repruned = new int[m];
        for (int u = first; u < end; u++)
        {
            var key = keys.AsSpan(u * dimension, dimension);
            GraphSearch.Run(graph, keys, dimension, key, ef, 0, int.MaxValue, scratch);
            int found = scratch.DrainTop(ef, candidates, candidateScores);
            if (found == 0) continue;
            int kept = RngPruning.Prune(keys, dimension, u, candidates.AsSpan(0, found), work.AsSpan(0, found), m, selected, fill: true);
            graph.SetNeighbors(u, selected.AsSpan(0, kept));
            bool linkedIn = false;
            for (int i = 0; i < kept; i++)
            {
                int c = selected[i];
                if (graph.TryAddEdge(c, u)) { linkedIn = true; continue; }
                // Full: re-prune c's list with u offered.
                var current = graph.Neighbors(c);
                current.CopyTo(merged);
                merged[current.Length] = u;
                int n = current.Length + 1;
                int keptC = RngPruning.Prune(keys, dimension, c, merged.AsSpan(0, n), work.AsSpan(0, n), m, repruned, fill: true);
                var newList = repruned.AsSpan(0, keptC);
                graph.SetNeighbors(c, newList);
                if (newList.Contains(u)) linkedIn = true;
            }
            if (!linkedIn)
            {
                // Guarantee an in-edge from the best candidate.
                int best = candidates[0];
                if (!graph.TryAddEdge(best, u)) graph.NeighborSlots(best)[m - 1] = u;
            }
        }
        RoarGraphBuilder.Connect(keys, end, dimension, graph, beamWidth, 1, out _);
    }
}
