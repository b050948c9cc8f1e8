using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retrieval.Index.Attention;

/// <summary>
/// The q·k kernel of the graph search. Head dimensions are small (32-128), where TensorPrimitives.Dot's span
/// checks and size dispatch cost as much as the arithmetic; this is the straight-line FMA loop on raw pointers,
/// with the prefetch of a key row (all cache lines it touches, rows are not line-aligned).
/// </summary>
internal static unsafe class KeyDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* a, float* b, int dimension)
    {
        int j = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && dimension >= 16)
        {
            var acc0 = Vector512<float>.Zero;
            var acc1 = Vector512<float>.Zero;
            for (; j + 32 <= dimension; j += 32)
            {
                acc0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + j), Vector512.Load(b + j), acc0);
                acc1 = Vector512.FusedMultiplyAdd(Vector512.Load(a + j + 16), Vector512.Load(b + j + 16), acc1);
            }
            for (; j + 16 <= dimension; j += 16)
                acc0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + j), Vector512.Load(b + j), acc0);
            sum = Vector512.Sum(acc0 + acc1);
        }
        else if (Vector256.IsHardwareAccelerated && dimension >= 8)
        {
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            for (; j + 16 <= dimension; j += 16)
            {
                acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + j), Vector256.Load(b + j), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + j + 8), Vector256.Load(b + j + 8), acc1);
            }
            for (; j + 8 <= dimension; j += 8)
                acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + j), Vector256.Load(b + j), acc0);
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; j < dimension; j++) sum += a[j] * b[j];
        return sum;
    }

    /// <summary>
    /// Four dot products of one query with four keys: the horizontal sums of the four accumulators share three
    /// horizontal adds instead of a separate reduction each (the reduction costs as much as the FMAs at d = 32).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Dot4(float* q, float* k0, float* k1, float* k2, float* k3, int dimension)
    {
        var a0 = Vector256<float>.Zero;
        var a1 = Vector256<float>.Zero;
        var a2 = Vector256<float>.Zero;
        var a3 = Vector256<float>.Zero;
        for (int j = 0; j < dimension; j += 8)
        {
            var x = Vector256.Load(q + j);
            a0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k0 + j), a0);
            a1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k1 + j), a1);
            a2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k2 + j), a2);
            a3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k3 + j), a3);
        }
        var t = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
        return t.GetLower() + t.GetUpper();
    }

    /// <summary>Asks for every cache line of a row of <paramref name="bytes"/> bytes (no-op without SSE).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(void* row, int bytes)
    {
        if (!Sse.IsSupported) return;
        byte* p = (byte*)row;
        for (int offset = 0; offset < bytes; offset += 64) Sse.Prefetch0(p + offset);
        // A row that starts mid-line spills into one more line.
        Sse.Prefetch0(p + bytes - 1);
    }

    /// <summary>Asks for every cache line of a 64-byte aligned row of <paramref name="bytes"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchAligned(void* row, int bytes)
    {
        if (!Sse.IsSupported) return;
        byte* p = (byte*)row;
        for (int offset = 0; offset < bytes; offset += 64) Sse.Prefetch0(p + offset);
    }
}
