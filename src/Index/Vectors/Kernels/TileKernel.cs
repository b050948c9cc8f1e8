using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Retrieval.Index.Vectors.Kernels;

/// <summary>
/// The many-queries x many-rows micro-kernel of blocked exact search (GEMM-like): a tile of decoded float32
/// queries against a block of decoded float32 rows, both in small scratch buffers that stay in L1/L2. Each step
/// loads four query and four row vectors and does sixteen fused accumulations into sixteen register
/// accumulators, so every row byte fetched from memory is used by many queries.
/// Shapes are padded by the caller so there are no tails here: query and row counts are multiples of
/// <see cref="RegisterTile"/>, the stride is a multiple of <see cref="StrideMultiple"/>, and padding is zeros
/// (neutral for both a dot product and a squared difference).
/// </summary>
internal static class TileKernel
{
    /// <summary>Queries and rows are processed in register tiles of this many (4 x 4 accumulators).</summary>
    public const int RegisterTile = 4;

    /// <summary>Row strides of the scratch buffers must be a multiple of this many floats (one 512-bit vector).</summary>
    public const int StrideMultiple = 16;

    public static int PaddedStride(int dimension) => (dimension + StrideMultiple - 1) / StrideMultiple * StrideMultiple;

    public static int PaddedCount(int count) => (count + RegisterTile - 1) / RegisterTile * RegisterTile;

    /// <summary>
    /// scores[q * scoreStride + r] = reduction(query q, row r) for q &lt; queryCount, r &lt; rowCount.
    /// </summary>
    public static void ScoreTile<TAccumulator>(ref float queries, int queryCount, ref float rows, int rowCount, int stride,
        ref float scores, int scoreStride)
        where TAccumulator : struct, IDistanceAccumulator
    {
        if (Vector512.IsHardwareAccelerated) ScoreTile512<TAccumulator>(ref queries, queryCount, ref rows, rowCount, stride, ref scores, scoreStride);
        else if (Vector256.IsHardwareAccelerated) ScoreTile256<TAccumulator>(ref queries, queryCount, ref rows, rowCount, stride, ref scores, scoreStride);
        else ScoreTileScalar<TAccumulator>(ref queries, queryCount, ref rows, rowCount, stride, ref scores, scoreStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreTile512<TAccumulator>(ref float queries, int queryCount, ref float rows, int rowCount, int stride,
        ref float scores, int scoreStride)
        where TAccumulator : struct, IDistanceAccumulator
    {
        for (int q = 0; q < queryCount; q += 4)
        {
            ref float q0 = ref Unsafe.Add(ref queries, (nint)q * stride);
            ref float q1 = ref Unsafe.Add(ref q0, stride);
            ref float q2 = ref Unsafe.Add(ref q1, stride);
            ref float q3 = ref Unsafe.Add(ref q2, stride);
            for (int r = 0; r < rowCount; r += 4)
            {
                ref float x0 = ref Unsafe.Add(ref rows, (nint)r * stride);
                ref float x1 = ref Unsafe.Add(ref x0, stride);
                ref float x2 = ref Unsafe.Add(ref x1, stride);
                ref float x3 = ref Unsafe.Add(ref x2, stride);
                Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
                Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
                Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
                Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
                for (nuint i = 0; i < (nuint)stride; i += 16)
                {
                    var r0 = Vector512.LoadUnsafe(ref x0, i);
                    var r1 = Vector512.LoadUnsafe(ref x1, i);
                    var r2 = Vector512.LoadUnsafe(ref x2, i);
                    var r3 = Vector512.LoadUnsafe(ref x3, i);
                    var v = Vector512.LoadUnsafe(ref q0, i);
                    a00 = TAccumulator.Accumulate(a00, v, r0); a01 = TAccumulator.Accumulate(a01, v, r1);
                    a02 = TAccumulator.Accumulate(a02, v, r2); a03 = TAccumulator.Accumulate(a03, v, r3);
                    v = Vector512.LoadUnsafe(ref q1, i);
                    a10 = TAccumulator.Accumulate(a10, v, r0); a11 = TAccumulator.Accumulate(a11, v, r1);
                    a12 = TAccumulator.Accumulate(a12, v, r2); a13 = TAccumulator.Accumulate(a13, v, r3);
                    v = Vector512.LoadUnsafe(ref q2, i);
                    a20 = TAccumulator.Accumulate(a20, v, r0); a21 = TAccumulator.Accumulate(a21, v, r1);
                    a22 = TAccumulator.Accumulate(a22, v, r2); a23 = TAccumulator.Accumulate(a23, v, r3);
                    v = Vector512.LoadUnsafe(ref q3, i);
                    a30 = TAccumulator.Accumulate(a30, v, r0); a31 = TAccumulator.Accumulate(a31, v, r1);
                    a32 = TAccumulator.Accumulate(a32, v, r2); a33 = TAccumulator.Accumulate(a33, v, r3);
                }
                ref float s = ref Unsafe.Add(ref scores, (nint)q * scoreStride + r);
                Store4(ref s, Vector512.Sum(a00), Vector512.Sum(a01), Vector512.Sum(a02), Vector512.Sum(a03));
                s = ref Unsafe.Add(ref s, scoreStride);
                Store4(ref s, Vector512.Sum(a10), Vector512.Sum(a11), Vector512.Sum(a12), Vector512.Sum(a13));
                s = ref Unsafe.Add(ref s, scoreStride);
                Store4(ref s, Vector512.Sum(a20), Vector512.Sum(a21), Vector512.Sum(a22), Vector512.Sum(a23));
                s = ref Unsafe.Add(ref s, scoreStride);
                Store4(ref s, Vector512.Sum(a30), Vector512.Sum(a31), Vector512.Sum(a32), Vector512.Sum(a33));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreTile256<TAccumulator>(ref float queries, int queryCount, ref float rows, int rowCount, int stride,
        ref float scores, int scoreStride)
        where TAccumulator : struct, IDistanceAccumulator
    {
        // 16 ymm registers only: a 2 x 4 register tile (8 accumulators + 4 rows + 1 query) avoids spills.
        for (int q = 0; q < queryCount; q += 2)
        {
            ref float q0 = ref Unsafe.Add(ref queries, (nint)q * stride);
            ref float q1 = ref Unsafe.Add(ref q0, stride);
            for (int r = 0; r < rowCount; r += 4)
            {
                ref float x0 = ref Unsafe.Add(ref rows, (nint)r * stride);
                ref float x1 = ref Unsafe.Add(ref x0, stride);
                ref float x2 = ref Unsafe.Add(ref x1, stride);
                ref float x3 = ref Unsafe.Add(ref x2, stride);
                Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
                Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
                for (nuint i = 0; i < (nuint)stride; i += 8)
                {
                    var r0 = Vector256.LoadUnsafe(ref x0, i);
                    var r1 = Vector256.LoadUnsafe(ref x1, i);
                    var r2 = Vector256.LoadUnsafe(ref x2, i);
                    var r3 = Vector256.LoadUnsafe(ref x3, i);
                    var v = Vector256.LoadUnsafe(ref q0, i);
                    a00 = TAccumulator.Accumulate(a00, v, r0); a01 = TAccumulator.Accumulate(a01, v, r1);
                    a02 = TAccumulator.Accumulate(a02, v, r2); a03 = TAccumulator.Accumulate(a03, v, r3);
                    v = Vector256.LoadUnsafe(ref q1, i);
                    a10 = TAccumulator.Accumulate(a10, v, r0); a11 = TAccumulator.Accumulate(a11, v, r1);
                    a12 = TAccumulator.Accumulate(a12, v, r2); a13 = TAccumulator.Accumulate(a13, v, r3);
                }
                ref float s = ref Unsafe.Add(ref scores, (nint)q * scoreStride + r);
                Store4(ref s, Vector256.Sum(a00), Vector256.Sum(a01), Vector256.Sum(a02), Vector256.Sum(a03));
                s = ref Unsafe.Add(ref s, scoreStride);
                Store4(ref s, Vector256.Sum(a10), Vector256.Sum(a11), Vector256.Sum(a12), Vector256.Sum(a13));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreTileScalar<TAccumulator>(ref float queries, int queryCount, ref float rows, int rowCount, int stride,
        ref float scores, int scoreStride)
        where TAccumulator : struct, IDistanceAccumulator
    {
        for (int q = 0; q < queryCount; q++)
        {
            ref float qv = ref Unsafe.Add(ref queries, (nint)q * stride);
            for (int r = 0; r < rowCount; r++)
            {
                ref float xv = ref Unsafe.Add(ref rows, (nint)r * stride);
                float sum = 0f;
                for (int i = 0; i < stride; i++) sum = TAccumulator.Accumulate(sum, Unsafe.Add(ref qv, i), Unsafe.Add(ref xv, i));
                Unsafe.Add(ref scores, (nint)q * scoreStride + r) = sum;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(ref float destination, float s0, float s1, float s2, float s3)
    {
        destination = s0;
        Unsafe.Add(ref destination, 1) = s1;
        Unsafe.Add(ref destination, 2) = s2;
        Unsafe.Add(ref destination, 3) = s3;
    }
}
