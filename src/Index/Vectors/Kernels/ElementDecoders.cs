using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retrieval.Index.Vectors.Kernels;

/// <summary>Stored float32: a plain load.</summary>
internal readonly struct Float32Decoder : IElementDecoder<float>
{
    public static ElementType StoredType => ElementType.Float32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Decode(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Decode512(ref float source) => Vector512.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Decode256(ref float source) => Vector256.LoadUnsafe(ref source);
}

/// <summary>
/// Stored IEEE binary16. .NET 10 exposes no F16C/AVX512-FP16 conversion intrinsic, so the conversion is done
/// with integer lanes: sign-extend each half to 32 bits, shift exponent and mantissa into float position, clear
/// the three copies of the sign that the shift dragged into the exponent, and multiply by 2^112 to re-bias the
/// exponent (15 -> 127). The multiply also turns half subnormals into the right normal floats, and a zero stays a
/// zero. Half infinities and NaNs (exponent 31) would come out as large finite numbers, so a compare patches their
/// exponent to all ones; the result equals <c>(float)half</c> for every one of the 65,536 bit patterns (tested).
/// </summary>
internal readonly struct Float16Decoder : IElementDecoder<Half>
{
    private const int ClearDraggedSignBits = unchecked((int)0x8FFF_FFFF);
    private const int ShiftedExponentMask = 0x0F80_0000; // half exponent after << 13
    private const int FloatExponentMask = 0x7F80_0000;
    private const float Rebias = 5.192296858534828e33f; // 2^112

    public static ElementType StoredType => ElementType.Float16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Decode(Half value) => (float)value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Decode512(ref Half source)
    {
        Vector256<short> raw = Vector256.LoadUnsafe(ref Unsafe.As<Half, short>(ref source));
        Vector512<int> wide = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512Int32(raw)
            : Vector512.WidenLower(raw.ToVector512Unsafe());
        Vector512<int> bits = (wide << 13) & Vector512.Create(ClearDraggedSignBits);
        Vector512<float> value = bits.AsSingle() * Vector512.Create(Rebias);
        Vector512<int> special = Vector512.Equals(bits & Vector512.Create(ShiftedExponentMask), Vector512.Create(ShiftedExponentMask));
        return (value.AsInt32() | (special & Vector512.Create(FloatExponentMask))).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Decode256(ref Half source)
    {
        Vector128<short> raw = Vector128.LoadUnsafe(ref Unsafe.As<Half, short>(ref source));
        Vector256<int> wide = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(raw)
            : Vector256.WidenLower(raw.ToVector256Unsafe());
        Vector256<int> bits = (wide << 13) & Vector256.Create(ClearDraggedSignBits);
        Vector256<float> value = bits.AsSingle() * Vector256.Create(Rebias);
        Vector256<int> special = Vector256.Equals(bits & Vector256.Create(ShiftedExponentMask), Vector256.Create(ShiftedExponentMask));
        return (value.AsInt32() | (special & Vector256.Create(FloatExponentMask))).AsSingle();
    }
}

/// <summary>Stored unsigned bytes (e.g. SIFT/BIGANN), zero-extended to int32 and converted exactly.</summary>
internal readonly struct UInt8Decoder : IElementDecoder<byte>
{
    public static ElementType StoredType => ElementType.UInt8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Decode(byte value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Decode512(ref byte source)
    {
        if (Avx512F.IsSupported)
            return Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref source)));
        return Vector512.Create(Decode256(ref source), Decode256(ref Unsafe.Add(ref source, 8)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Decode256(ref byte source)
    {
        var eight = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref source)).AsByte();
        Vector256<int> wide = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(eight)
            : Vector256.WidenLower(Vector128.WidenLower(eight).ToVector256Unsafe()).AsInt32();
        return Vector256.ConvertToSingle(wide);
    }
}

/// <summary>Stored signed bytes, sign-extended to int32 and converted exactly.</summary>
internal readonly struct Int8Decoder : IElementDecoder<sbyte>
{
    public static ElementType StoredType => ElementType.Int8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Decode(sbyte value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Decode512(ref sbyte source)
    {
        if (Avx512F.IsSupported)
            return Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref source)));
        return Vector512.Create(Decode256(ref source), Decode256(ref Unsafe.Add(ref source, 8)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Decode256(ref sbyte source)
    {
        var eight = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<sbyte, byte>(ref source))).AsSByte();
        Vector256<int> wide = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(eight)
            : Vector256.WidenLower(Vector128.WidenLower(eight).ToVector256Unsafe());
        return Vector256.ConvertToSingle(wide);
    }
}

/// <summary>
/// Stored binary16 known to hold no infinity or NaN (an <see cref="Exact.ExactDenseIndex"/> checks its base once
/// when built): <see cref="Float16Decoder"/> without the compare-and-patch for exponent 31, enough faster in the
/// single-query scan to keep that memory-bound loop ahead of DRAM (docs/BENCHMARKS.md, "Other"). Equals <c>(float)half</c> for every
/// finite half; infinities and NaNs come out as wrong finite values, so never use it on unchecked data.
/// </summary>
internal readonly struct FiniteFloat16Decoder : IElementDecoder<Half>
{
    private const int ClearDraggedSignBits = unchecked((int)0x8FFF_FFFF);
    private const float Rebias = 5.192296858534828e33f; // 2^112

    public static ElementType StoredType => ElementType.Float16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Decode(Half value) => (float)value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Decode512(ref Half source)
    {
        Vector256<short> raw = Vector256.LoadUnsafe(ref Unsafe.As<Half, short>(ref source));
        Vector512<int> wide = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512Int32(raw)
            : Vector512.WidenLower(raw.ToVector512Unsafe());
        return ((wide << 13) & Vector512.Create(ClearDraggedSignBits)).AsSingle() * Vector512.Create(Rebias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Decode256(ref Half source)
    {
        Vector128<short> raw = Vector128.LoadUnsafe(ref Unsafe.As<Half, short>(ref source));
        Vector256<int> wide = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(raw)
            : Vector256.WidenLower(raw.ToVector256Unsafe());
        return ((wide << 13) & Vector256.Create(ClearDraggedSignBits)).AsSingle() * Vector256.Create(Rebias);
    }
}
