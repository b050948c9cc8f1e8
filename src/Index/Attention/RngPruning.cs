namespace Retrieval.Index.Attention;

/// <summary>
/// RNG-style occlusion pruning under inner product (RoarGraph's rule with distance = -q·k): candidates are taken
/// in order (by default descending p·c), and c is dropped when an already selected s has s·c > p·c (s reaches c
/// better than p does). Keeps at most m; optionally fills the remaining slots with the best occluded candidates
/// (RoarGraph's "if not enough" pass), which keeps hubs from ending with a handful of edges.
/// </summary>
internal static unsafe class RngPruning
{
    /// <summary>
    /// Prunes <paramref name="candidates"/> (distinct, not containing <paramref name="node"/>; reordered in place)
    /// for <paramref name="node"/>; <paramref name="work"/> is a same-length scratch. When
    /// <paramref name="presorted"/> the caller's order is kept (e.g. by co-occurrence), else candidates are sorted
    /// by descending node·c. Writes the kept ones to <paramref name="selected"/> and returns how many.
    /// </summary>
    public static int Prune(KeyRows keys, int node, Span<int> candidates, Span<float> work, int m,
        Span<int> selected, bool fill, bool presorted = false)
    {
        int n = candidates.Length;
        int dimension = keys.Dimension;
        float* nodeKey = keys.Row(node);
        for (int i = 0; i < n; i++)
        {
            // Negated so the ascending sort puts the highest p·c first.
            work[i] = -KeyDot.Dot(nodeKey, keys.Row(candidates[i]), dimension);
        }
        if (!presorted) work.Sort(candidates);
        return Select(keys, candidates, work, m, selected, fill);
    }

    private static int Select(KeyRows keys, Span<int> candidates, Span<float> work, int m,
        Span<int> selected, bool fill)
    {
        int n = candidates.Length;
        int kept = 0;
        int occludedCount = 0;
        for (int i = 0; i < n && kept < m; i++)
        {
            int c = candidates[i];
            float nodeScore = -work[i];
            float* cKey = keys.Row(c);
            bool occluded = false;
            for (int j = 0; j < kept; j++)
            {
                if (KeyDot.Dot(keys.Row(selected[j]), cKey, keys.Dimension) > nodeScore)
                {
                    occluded = true;
                    break;
                }
            }
            if (!occluded) selected[kept++] = c;
            else if (fill) candidates[occludedCount++] = c; // compacts occluded ones, in order, at the front
        }
        if (fill)
        {
            for (int i = 0; i < occludedCount && kept < m; i++) selected[kept++] = candidates[i];
        }
        return kept;
    }
}
