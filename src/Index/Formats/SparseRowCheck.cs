namespace Retrieval.Index.Formats;

/// <summary>
/// The invariants of a CSR matrix the engine relies on (the sparse kernels merge rows assuming them):
/// indices strictly increasing within a row and inside 0..columns-1; weights finite and, by default, non-negative.
/// </summary>
internal static class SparseRowCheck
{
    internal readonly record struct Problem(long Row, long Position, bool InValues, string Message);

    public static Problem? FindProblem(ReadOnlySpan<long> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values,
        int columnCount, bool allowNegativeWeights)
    {
        int rows = offsets.Length - 1;
        for (int r = 0; r < rows; r++)
        {
            int start = (int)offsets[r];
            int end = (int)offsets[r + 1];
            int previous = -1;
            for (int p = start; p < end; p++)
            {
                int index = indices[p];
                if ((uint)index >= (uint)columnCount)
                    return new Problem(r, p, false,
                        $"index {index} (entry {p - start} of the row) is out of range: expected 0..{columnCount - 1}");
                if (index <= previous)
                    return new Problem(r, p, false, index == previous
                        ? $"duplicate index {index} (entry {p - start} of the row): expected strictly increasing indices"
                        : $"unsorted indices: {index} (entry {p - start} of the row) follows {previous}, expected strictly increasing indices");
                previous = index;
            }
        }
        int bad = NonFiniteScan.IndexOfNonFinite(values);
        if (bad >= 0)
            return new Problem(RowOf(offsets, bad), bad, true,
                $"weight of index {indices[bad]} is {NonFiniteScan.Name(values[bad])}, expected a finite number");
        if (!allowNegativeWeights)
        {
            for (int p = 0; p < values.Length; p++)
            {
                if (values[p] < 0)
                    return new Problem(RowOf(offsets, p), p, true,
                        $"weight of index {indices[p]} is {values[p]}, expected a non-negative weight (allow it with AllowNegativeWeights)");
            }
        }
        return null;
    }

    /// <summary>The row holding entry <paramref name="position"/>: the last row whose start is at or before it.</summary>
    private static long RowOf(ReadOnlySpan<long> offsets, long position)
    {
        int lo = 0, hi = offsets.Length - 2;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (offsets[mid] <= position) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }
}
