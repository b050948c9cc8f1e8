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
        if (!presorted)
        {
            // (score, scrambled id) packed into one ulong per candidate so that an ascending primitive sort puts the
            // highest p·c first: with the row prefetch below, the projection runs faster than sorting scores with
            // ids alongside. Ties (duplicate keys are common in real caches) fall in an order scrambled per node:
            // ordering them by id made every pivot pick the same copy of a duplicated key and cost recall.
            var packed = PackedBuffer(n);
            uint seed = (uint)node * 0x85EB_CA6Bu;
            const int Ahead = 8;
            int rowBytes = dimension * sizeof(float);
            for (int i = 0; i < Math.Min(Ahead, n); i++) KeyDot.PrefetchAligned(keys.Row(candidates[i]), rowBytes);
            for (int i = 0; i < n; i++)
            {
                // Candidate rows are scattered over the node block: ask for a later one while scoring this one.
                if (i + Ahead < n) KeyDot.PrefetchAligned(keys.Row(candidates[i + Ahead]), rowBytes);
                float negated = -KeyDot.Dot(nodeKey, keys.Row(candidates[i]), dimension);
                packed[i] = ((ulong)SortableBits(negated) << 32) | (((uint)candidates[i] ^ seed) * Scramble);
            }
            packed[..n].Sort();
            for (int i = 0; i < n; i++)
            {
                candidates[i] = (int)(((uint)packed[i] * Unscramble) ^ seed);
                work[i] = FromSortableBits((uint)(packed[i] >> 32));
            }
            return Select(keys, candidates, work, m, selected, fill);
        }
        for (int i = 0; i < n; i++) work[i] = -KeyDot.Dot(nodeKey, keys.Row(candidates[i]), dimension);
        return Select(keys, candidates, work, m, selected, fill);
    }

    // An odd multiplier and its inverse modulo 2^32: a bijection on ids.
    private const uint Scramble = 0x9E37_79B1u;
    private const uint Unscramble = 0x0E8B_2F51u;

    [ThreadStatic] private static ulong[]? t_packed;

    private static Span<ulong> PackedBuffer(int n)
    {
        var buffer = t_packed;
        if (buffer is null || buffer.Length < n) t_packed = buffer = new ulong[Math.Max(n, 1024)];
        return buffer;
    }

    /// <summary>Maps a float to a uint whose unsigned order is the float's order (finite input).</summary>
    private static uint SortableBits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
    }

    private static float FromSortableBits(uint sortable) =>
        BitConverter.UInt32BitsToSingle((sortable & 0x8000_0000u) != 0 ? sortable & 0x7FFF_FFFFu : ~sortable);

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
