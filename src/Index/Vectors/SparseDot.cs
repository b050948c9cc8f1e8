using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Vectors;

/// <summary>
/// Dot products with sparse vectors whose term ids are strictly increasing (the <see cref="SparseVector"/> and
/// <see cref="SparseMatrix"/> contract; not re-checked here, the readers and index builders check it).
/// </summary>
/// <remarks>
/// Sparse·sparse products add the matched terms' products in ascending term order into one float, so the result is
/// bit-identical to the plain merge loop whichever strategy (merge or galloping) runs, and to an inverted-index
/// accumulation that visits query terms in ascending order. That is what lets exact sparse search be checked for
/// equality, ties included, against brute force over this kernel.
/// </remarks>
public static class SparseDot
{
    /// <summary>
    /// When the longer side has at least this many times the entries of the shorter one, each short-side term is
    /// looked up by galloping (exponential then binary search) in the long side instead of merging both lists:
    /// cost O(m log(n/m)) rather than O(m + n). The threshold is the ratio at which the two measured even on random
    /// sorted ids (docs/BENCHMARKS.md, "Other").
    /// </summary>
    public const int GallopLengthRatio = 32;

    /// <summary>Dot product of two sparse vectors (sorted term ids). Empty or disjoint vectors give 0.</summary>
    public static float Dot(SparseVector a, SparseVector b) => Dot(a.Indices, a.Values, b.Indices, b.Values);

    /// <summary>Dot product of two sparse vectors given as (sorted term ids, weights) pairs of equal length each.</summary>
    public static float Dot(ReadOnlySpan<int> aIndices, ReadOnlySpan<float> aValues,
        ReadOnlySpan<int> bIndices, ReadOnlySpan<float> bValues)
    {
        if (aIndices.Length != aValues.Length)
            Guard.ThrowInvalid($"sparse vector has {aIndices.Length} term ids but {aValues.Length} weights");
        if (bIndices.Length != bValues.Length)
            Guard.ThrowInvalid($"sparse vector has {bIndices.Length} term ids but {bValues.Length} weights");
        int na = aIndices.Length, nb = bIndices.Length;
        if (na == 0 || nb == 0) return 0f;
        // Quick reject: the id ranges do not overlap.
        if (aIndices[na - 1] < bIndices[0] || bIndices[nb - 1] < aIndices[0]) return 0f;

        if (na <= nb)
            return nb / na >= GallopLengthRatio
                ? GallopDot(aIndices, aValues, bIndices, bValues)
                : MergeDot(aIndices, aValues, bIndices, bValues);
        return na / nb >= GallopLengthRatio
            ? GallopDot(bIndices, bValues, aIndices, aValues)
            : MergeDot(aIndices, aValues, bIndices, bValues);
    }

    /// <summary>
    /// Dot product of a sparse vector with a dense one (a gather). Every term id of <paramref name="sparse"/> must be
    /// below <paramref name="dense"/>.Length.
    /// </summary>
    public static float Dot(SparseVector sparse, ReadOnlySpan<float> dense) => Dot(sparse.Indices, sparse.Values, dense);

    /// <inheritdoc cref="Dot(SparseVector, ReadOnlySpan{float})"/>
    public static float Dot(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> dense)
    {
        if (indices.Length != values.Length)
            Guard.ThrowInvalid($"sparse vector has {indices.Length} term ids but {values.Length} weights");
        int n = indices.Length;
        if (n == 0) return 0f;
        // Ids are sorted, so the first and last bound all of them: one check instead of one per gather.
        if (indices[0] < 0 || indices[n - 1] >= dense.Length)
            Guard.ThrowInvalid(
                $"sparse term ids span {indices[0]}..{indices[n - 1]} but the dense vector has dimension {dense.Length}");

        ref int idx = ref MemoryMarshal.GetReference(indices);
        ref float val = ref MemoryMarshal.GetReference(values);
        ref float den = ref MemoryMarshal.GetReference(dense);
        int i = 0;
        float sum = 0f;
        if (Avx2.IsSupported && n >= 2 * Vector256<float>.Count)
        {
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            unsafe
            {
                fixed (float* densePtr = dense)
                {
                    for (; i <= n - 16; i += 16)
                    {
                        var ids0 = Vector256.LoadUnsafe(ref idx, (nuint)i);
                        var ids1 = Vector256.LoadUnsafe(ref idx, (nuint)(i + 8));
                        var g0 = Avx2.GatherVector256(densePtr, ids0, 4);
                        var g1 = Avx2.GatherVector256(densePtr, ids1, 4);
                        acc0 += g0 * Vector256.LoadUnsafe(ref val, (nuint)i);
                        acc1 += g1 * Vector256.LoadUnsafe(ref val, (nuint)(i + 8));
                    }
                }
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++)
            sum += Unsafe.Add(ref val, i) * Unsafe.Add(ref den, Unsafe.Add(ref idx, i));
        return sum;
    }

    private static float MergeDot(ReadOnlySpan<int> aIndices, ReadOnlySpan<float> aValues,
        ReadOnlySpan<int> bIndices, ReadOnlySpan<float> bValues)
    {
        // Callers guarantee both sides are non-empty. Keeping the current ids in locals (instead of re-reading both
        // per step, or advancing with branch-free flags) measured several times faster: runs on one side are predictable
        // branches, and only the side that moved is reloaded.
        int i = 0, j = 0, na = aIndices.Length, nb = bIndices.Length;
        int ta = aIndices[0], tb = bIndices[0];
        float sum = 0f;
        while (true)
        {
            if (ta < tb)
            {
                if (++i == na) break;
                ta = aIndices[i];
            }
            else if (ta > tb)
            {
                if (++j == nb) break;
                tb = bIndices[j];
            }
            else
            {
                sum += aValues[i] * bValues[j];
                if (++i == na || ++j == nb) break;
                ta = aIndices[i];
                tb = bIndices[j];
            }
        }
        return sum;
    }

    /// <summary>For each term of the short side, gallop forward in the long side from the last match position.</summary>
    private static float GallopDot(ReadOnlySpan<int> shortIndices, ReadOnlySpan<float> shortValues,
        ReadOnlySpan<int> longIndices, ReadOnlySpan<float> longValues)
    {
        int lo = 0, n = longIndices.Length;
        float sum = 0f;
        for (int i = 0; i < shortIndices.Length; i++)
        {
            int term = shortIndices[i];
            lo = LowerBoundFrom(longIndices, lo, term);
            if (lo >= n) break;
            if (longIndices[lo] == term)
            {
                sum += shortValues[i] * longValues[lo];
                lo++;
            }
        }
        return sum;
    }

    /// <summary>First position p >= start with ids[p] >= term (ids.Length when none), by exponential then binary search.</summary>
    internal static int LowerBoundFrom(ReadOnlySpan<int> ids, int start, int term)
    {
        int n = ids.Length;
        if (start >= n || ids[start] >= term) return start;
        // Invariant: ids[lo] < term. Double the step until ids[hi] >= term or the step runs off the end
        // (compared as a remaining length so lo + step cannot overflow on huge lists).
        int lo = start, hi;
        long step = 1;
        while (true)
        {
            if (step >= n - lo)
            {
                hi = n;
                break;
            }
            hi = lo + (int)step;
            if (ids[hi] >= term) break;
            lo = hi;
            step <<= 1;
        }
        // Binary search in (lo, hi]: ids[lo] < term, ids[hi] >= term (or hi == n).
        lo++;
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (ids[mid] < term) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
