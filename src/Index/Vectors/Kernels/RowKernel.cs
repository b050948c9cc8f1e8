using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retrieval.Index.Vectors.Kernels;

/// <summary>
/// The query-against-stored-rows reductions, generic over the accumulator (dot / squared L2) and the stored
/// element decoder, decoding each row on the fly. Every row is reduced in one canonical order (a 16-lane
/// accumulator over whole 16-blocks, then at most one 8-lane step, then scalar FMAs, summed in that order), whether
/// it is scored alone (<see cref="Reduce"/>) or four at a time (<see cref="ScoreRows"/>): identical rows therefore
/// get bit-identical scores, which keeps ties (duplicate vectors) ordered by id exactly as ground truth expects.
/// </summary>
internal static class RowKernel
{
    /// <summary>
    /// How far ahead of the rows being scored <see cref="ScoreRows"/> prefetches. The hardware prefetcher alone
    /// leaves a one-query float16 scan well below the memory bandwidth; prefetching each four-row group a few KiB
    /// ahead roughly doubles it over a plateau of distances, and 8 KiB sits in the middle of that plateau
    /// (docs/BENCHMARKS.md, "Other").
    /// </summary>
    public const int PrefetchDistanceBytes = 8192;

    /// <summary>One reduction over <paramref name="dimension"/> coordinates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce<TAccumulator, TDecoder, TElement>(ref float query, ref TElement row, int dimension)
        where TAccumulator : struct, IDistanceAccumulator
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= dimension - 16; i += 16)
                acc = TAccumulator.Accumulate(acc, Vector512.LoadUnsafe(ref query, (nuint)i), TDecoder.Decode512(ref Unsafe.Add(ref row, i)));
            return Vector512.Sum(acc) + Tail<TAccumulator, TDecoder, TElement>(ref query, ref row, i, dimension);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= dimension - 8; i += 8)
                acc = TAccumulator.Accumulate(acc, Vector256.LoadUnsafe(ref query, (nuint)i), TDecoder.Decode256(ref Unsafe.Add(ref row, i)));
            return Vector256.Sum(acc) + ScalarTail<TAccumulator, TDecoder, TElement>(ref query, ref row, i, dimension);
        }
        return ScalarTail<TAccumulator, TDecoder, TElement>(ref query, ref row, 0, dimension);
    }

    /// <summary>
    /// Scores <paramref name="rowCount"/> consecutive rows (row-major, <paramref name="dimension"/> elements each)
    /// against one query: scores[r] = reduction(query, row r). Four rows share each query load and give the FMA
    /// units four independent chains, which is what a single query needs to keep up with memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void ScoreRows<TAccumulator, TDecoder, TElement>(ref float query, ref TElement rows, int rowCount, int dimension, ref float scores)
        where TAccumulator : struct, IDistanceAccumulator
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        int r = 0;
        int groupBytes = 4 * dimension * sizeof(TElement);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; r <= rowCount - 4; r += 4)
            {
                ref TElement x0 = ref Unsafe.Add(ref rows, (nint)r * dimension);
                ref TElement x1 = ref Unsafe.Add(ref x0, dimension);
                ref TElement x2 = ref Unsafe.Add(ref x1, dimension);
                ref TElement x3 = ref Unsafe.Add(ref x2, dimension);
                PrefetchAhead(ref x0, groupBytes);
                var a0 = Vector512<float>.Zero;
                var a1 = Vector512<float>.Zero;
                var a2 = Vector512<float>.Zero;
                var a3 = Vector512<float>.Zero;
                int i = 0;
                for (; i <= dimension - 16; i += 16)
                {
                    var q = Vector512.LoadUnsafe(ref query, (nuint)i);
                    a0 = TAccumulator.Accumulate(a0, q, TDecoder.Decode512(ref Unsafe.Add(ref x0, i)));
                    a1 = TAccumulator.Accumulate(a1, q, TDecoder.Decode512(ref Unsafe.Add(ref x1, i)));
                    a2 = TAccumulator.Accumulate(a2, q, TDecoder.Decode512(ref Unsafe.Add(ref x2, i)));
                    a3 = TAccumulator.Accumulate(a3, q, TDecoder.Decode512(ref Unsafe.Add(ref x3, i)));
                }
                Unsafe.Add(ref scores, r) = Vector512.Sum(a0) + Tail<TAccumulator, TDecoder, TElement>(ref query, ref x0, i, dimension);
                Unsafe.Add(ref scores, r + 1) = Vector512.Sum(a1) + Tail<TAccumulator, TDecoder, TElement>(ref query, ref x1, i, dimension);
                Unsafe.Add(ref scores, r + 2) = Vector512.Sum(a2) + Tail<TAccumulator, TDecoder, TElement>(ref query, ref x2, i, dimension);
                Unsafe.Add(ref scores, r + 3) = Vector512.Sum(a3) + Tail<TAccumulator, TDecoder, TElement>(ref query, ref x3, i, dimension);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; r <= rowCount - 4; r += 4)
            {
                ref TElement x0 = ref Unsafe.Add(ref rows, (nint)r * dimension);
                ref TElement x1 = ref Unsafe.Add(ref x0, dimension);
                ref TElement x2 = ref Unsafe.Add(ref x1, dimension);
                ref TElement x3 = ref Unsafe.Add(ref x2, dimension);
                PrefetchAhead(ref x0, groupBytes);
                var a0 = Vector256<float>.Zero;
                var a1 = Vector256<float>.Zero;
                var a2 = Vector256<float>.Zero;
                var a3 = Vector256<float>.Zero;
                int i = 0;
                for (; i <= dimension - 8; i += 8)
                {
                    var q = Vector256.LoadUnsafe(ref query, (nuint)i);
                    a0 = TAccumulator.Accumulate(a0, q, TDecoder.Decode256(ref Unsafe.Add(ref x0, i)));
                    a1 = TAccumulator.Accumulate(a1, q, TDecoder.Decode256(ref Unsafe.Add(ref x1, i)));
                    a2 = TAccumulator.Accumulate(a2, q, TDecoder.Decode256(ref Unsafe.Add(ref x2, i)));
                    a3 = TAccumulator.Accumulate(a3, q, TDecoder.Decode256(ref Unsafe.Add(ref x3, i)));
                }
                Unsafe.Add(ref scores, r) = Vector256.Sum(a0) + ScalarTail<TAccumulator, TDecoder, TElement>(ref query, ref x0, i, dimension);
                Unsafe.Add(ref scores, r + 1) = Vector256.Sum(a1) + ScalarTail<TAccumulator, TDecoder, TElement>(ref query, ref x1, i, dimension);
                Unsafe.Add(ref scores, r + 2) = Vector256.Sum(a2) + ScalarTail<TAccumulator, TDecoder, TElement>(ref query, ref x2, i, dimension);
                Unsafe.Add(ref scores, r + 3) = Vector256.Sum(a3) + ScalarTail<TAccumulator, TDecoder, TElement>(ref query, ref x3, i, dimension);
            }
        }
        for (; r < rowCount; r++)
            Unsafe.Add(ref scores, r) = Reduce<TAccumulator, TDecoder, TElement>(ref query, ref Unsafe.Add(ref rows, (nint)r * dimension), dimension);
    }

    /// <summary>
    /// Asks for the cache lines <see cref="PrefetchDistanceBytes"/> past the group starting at <paramref name="group"/>.
    /// The address comes from an unpinned array: if the GC moved it meanwhile the hint merely misses, and a
    /// prefetch past the end of memory never faults.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchAhead<TElement>(ref TElement group, int groupBytes)
    {
        if (!Sse.IsSupported) return;
        byte* ahead = (byte*)Unsafe.AsPointer(ref group) + PrefetchDistanceBytes;
        for (int b = 0; b < groupBytes; b += 64) Sse.Prefetch0(ahead + b);
    }

    /// <summary>Sum of squares of one stored row (for cosine norms), in the same canonical order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SquaredNorm<TDecoder, TElement>(ref TElement row, int dimension)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        int i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= dimension - 16; i += 16)
            {
                var x = TDecoder.Decode512(ref Unsafe.Add(ref row, i));
                acc = Vector512.FusedMultiplyAdd(x, x, acc);
            }
            sum = Vector512.Sum(acc);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= dimension - 8; i += 8)
            {
                var x = TDecoder.Decode256(ref Unsafe.Add(ref row, i));
                acc = Vector256.FusedMultiplyAdd(x, x, acc);
            }
            sum += Vector256.Sum(acc);
        }
        float tail = 0;
        for (; i < dimension; i++)
        {
            float x = TDecoder.Decode(Unsafe.Add(ref row, i));
            tail = MathF.FusedMultiplyAdd(x, x, tail);
        }
        return sum + tail;
    }

    /// <summary>True when every decoded coordinate of the row is finite (no NaN, no infinity).</summary>
    public static bool IsFinite<TDecoder, TElement>(ref TElement row, int dimension)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        // x - x is 0 for every finite x and NaN for NaN or +-inf, so one NaN test covers the whole row.
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= dimension - 16; i += 16)
            {
                var x = TDecoder.Decode512(ref Unsafe.Add(ref row, i));
                acc += x - x;
            }
            if (!Vector512.EqualsAll(acc, Vector512<float>.Zero)) return false;
        }
        for (; i < dimension; i++)
        {
            if (!float.IsFinite(TDecoder.Decode(Unsafe.Add(ref row, i)))) return false;
        }
        return true;
    }

    /// <summary>After the 16-lane loop: at most one 8-lane step, then scalars.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail<TAccumulator, TDecoder, TElement>(ref float query, ref TElement row, int i, int dimension)
        where TAccumulator : struct, IDistanceAccumulator
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        if (i == dimension) return 0f;
        float part = 0f;
        if (i <= dimension - 8)
        {
            part = Vector256.Sum(TAccumulator.Accumulate(Vector256<float>.Zero, Vector256.LoadUnsafe(ref query, (nuint)i), TDecoder.Decode256(ref Unsafe.Add(ref row, i))));
            i += 8;
        }
        return part + ScalarTail<TAccumulator, TDecoder, TElement>(ref query, ref row, i, dimension);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ScalarTail<TAccumulator, TDecoder, TElement>(ref float query, ref TElement row, int i, int dimension)
        where TAccumulator : struct, IDistanceAccumulator
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        float sum = 0f;
        for (; i < dimension; i++)
            sum = TAccumulator.Accumulate(sum, Unsafe.Add(ref query, i), TDecoder.Decode(Unsafe.Add(ref row, i)));
        return sum;
    }
}
