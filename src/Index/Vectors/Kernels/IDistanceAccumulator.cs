using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Retrieval.Index.Vectors.Kernels;

/// <summary>
/// One step of a coordinate-wise reduction between a float32 query and a decoded row: the dot product adds
/// q*x, squared L2 adds (q-x)^2. Cosine is a dot product scaled by inverse norms afterwards, so it needs no
/// accumulator of its own. Struct implementations are generic arguments so every loop is monomorphic.
/// </summary>
internal interface IDistanceAccumulator
{
    static abstract Vector512<float> Accumulate(Vector512<float> sum, Vector512<float> query, Vector512<float> row);
    static abstract Vector256<float> Accumulate(Vector256<float> sum, Vector256<float> query, Vector256<float> row);
    static abstract float Accumulate(float sum, float query, float row);
}

/// <summary>sum += q * x (fused, so the scalar tail rounds like the vector lanes).</summary>
internal readonly struct DotProductAccumulator : IDistanceAccumulator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Accumulate(Vector512<float> sum, Vector512<float> query, Vector512<float> row) =>
        Vector512.FusedMultiplyAdd(query, row, sum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Accumulate(Vector256<float> sum, Vector256<float> query, Vector256<float> row) =>
        Vector256.FusedMultiplyAdd(query, row, sum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Accumulate(float sum, float query, float row) => MathF.FusedMultiplyAdd(query, row, sum);
}

/// <summary>
/// sum += (q - x)^2. Computed from the difference rather than as |q|^2 + |x|^2 - 2 q.x: the expansion is
/// cheaper in a GEMM but cancels catastrophically for near neighbours, and exact search must reproduce
/// ground truth ids, ties included.
/// </summary>
internal readonly struct SquaredL2Accumulator : IDistanceAccumulator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Accumulate(Vector512<float> sum, Vector512<float> query, Vector512<float> row)
    {
        var d = query - row;
        return Vector512.FusedMultiplyAdd(d, d, sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Accumulate(Vector256<float> sum, Vector256<float> query, Vector256<float> row)
    {
        var d = query - row;
        return Vector256.FusedMultiplyAdd(d, d, sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Accumulate(float sum, float query, float row)
    {
        float d = query - row;
        return MathF.FusedMultiplyAdd(d, d, sum);
    }
}
