using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Vectors.Kernels;

/// <summary>
/// Dot product, squared L2 distance and cosine similarity between a float32 query and one row stored as
/// float32, float16, uint8 or int8 (decoded on the fly; no float32 copy of the row is made). Lengths must match.
/// Cosine similarity of a zero vector with anything is defined as 0 (not NaN): a zero vector has no direction,
/// and 0 keeps it in the middle of the [-1, 1] range instead of poisoning a top-k heap.
/// </summary>
public static class DenseKernels
{
    public static float Dot(ReadOnlySpan<float> query, ReadOnlySpan<float> row) => Run<DotProductAccumulator, Float32Decoder, float>(query, row);
    public static float Dot(ReadOnlySpan<float> query, ReadOnlySpan<Half> row) => Run<DotProductAccumulator, Float16Decoder, Half>(query, row);
    public static float Dot(ReadOnlySpan<float> query, ReadOnlySpan<byte> row) => Run<DotProductAccumulator, UInt8Decoder, byte>(query, row);
    public static float Dot(ReadOnlySpan<float> query, ReadOnlySpan<sbyte> row) => Run<DotProductAccumulator, Int8Decoder, sbyte>(query, row);

    public static float SquaredL2(ReadOnlySpan<float> query, ReadOnlySpan<float> row) => Run<SquaredL2Accumulator, Float32Decoder, float>(query, row);
    public static float SquaredL2(ReadOnlySpan<float> query, ReadOnlySpan<Half> row) => Run<SquaredL2Accumulator, Float16Decoder, Half>(query, row);
    public static float SquaredL2(ReadOnlySpan<float> query, ReadOnlySpan<byte> row) => Run<SquaredL2Accumulator, UInt8Decoder, byte>(query, row);
    public static float SquaredL2(ReadOnlySpan<float> query, ReadOnlySpan<sbyte> row) => Run<SquaredL2Accumulator, Int8Decoder, sbyte>(query, row);

    public static float Cosine(ReadOnlySpan<float> query, ReadOnlySpan<float> row) => CosineOf<Float32Decoder, float>(query, row);
    public static float Cosine(ReadOnlySpan<float> query, ReadOnlySpan<Half> row) => CosineOf<Float16Decoder, Half>(query, row);
    public static float Cosine(ReadOnlySpan<float> query, ReadOnlySpan<byte> row) => CosineOf<UInt8Decoder, byte>(query, row);
    public static float Cosine(ReadOnlySpan<float> query, ReadOnlySpan<sbyte> row) => CosineOf<Int8Decoder, sbyte>(query, row);

    public static float SquaredNorm(ReadOnlySpan<float> row) => NormOf<Float32Decoder, float>(row);
    public static float SquaredNorm(ReadOnlySpan<Half> row) => NormOf<Float16Decoder, Half>(row);
    public static float SquaredNorm(ReadOnlySpan<byte> row) => NormOf<UInt8Decoder, byte>(row);
    public static float SquaredNorm(ReadOnlySpan<sbyte> row) => NormOf<Int8Decoder, sbyte>(row);

    /// <summary>1/|x| from a squared norm, or 0 for a zero vector (so its cosine with anything is 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InverseNorm(float squaredNorm) => squaredNorm > 0f ? 1f / MathF.Sqrt(squaredNorm) : 0f;

    /// <summary>Decodes one stored row into float32 (the destination must hold at least row.Length floats).</summary>
    internal static void Decode<TDecoder, TElement>(ReadOnlySpan<TElement> row, Span<float> destination)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        if (destination.Length < row.Length)
            Guard.ThrowInvalid($"destination holds {destination.Length} floats, the row has {row.Length}");
        RowDecoder.DecodeRows<TDecoder, TElement>(ref MemoryMarshal.GetReference(row), 1, row.Length,
            ref MemoryMarshal.GetReference(destination), row.Length);
    }

    /// <summary>The generic entry other kernels build on: one reduction of a query against a stored row.</summary>
    internal static float Run<TAccumulator, TDecoder, TElement>(ReadOnlySpan<float> query, ReadOnlySpan<TElement> row)
        where TAccumulator : struct, IDistanceAccumulator
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        if (query.Length != row.Length) ThrowLengthMismatch(query.Length, row.Length);
        return RowKernel.Reduce<TAccumulator, TDecoder, TElement>(
            ref MemoryMarshal.GetReference(query), ref MemoryMarshal.GetReference(row), query.Length);
    }

    private static float CosineOf<TDecoder, TElement>(ReadOnlySpan<float> query, ReadOnlySpan<TElement> row)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        float dot = Run<DotProductAccumulator, TDecoder, TElement>(query, row);
        float qq = NormOf<Float32Decoder, float>(query);
        float xx = NormOf<TDecoder, TElement>(row);
        return dot * InverseNorm(qq) * InverseNorm(xx);
    }

    private static float NormOf<TDecoder, TElement>(ReadOnlySpan<TElement> row)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged =>
        RowKernel.SquaredNorm<TDecoder, TElement>(ref MemoryMarshal.GetReference(row), row.Length);

    private static void ThrowLengthMismatch(int query, int row) =>
        Guard.SameDimension(query, row, "row");
}
