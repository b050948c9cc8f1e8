using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Retrieval.Index.Formats;

/// <summary>
/// Finds NaN or +-Inf in float data without decoding it: an IEEE value is non-finite exactly when all its
/// exponent bits are set, so one AND + compare per lane over the raw bits does the whole check at memory speed.
/// </summary>
internal static class NonFiniteScan
{
    private const uint Float32Exponent = 0x7F80_0000u;
    private const ushort Float16Exponent = 0x7C00;
    private const ulong Float64Exponent = 0x7FF0_0000_0000_0000ul;

    /// <summary>Index (in elements) of the first non-finite value in raw little-endian data, or -1.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<byte> raw, StoredElement element) => element switch
    {
        StoredElement.Float32 => IndexOfMasked(MemoryMarshal.Cast<byte, uint>(raw), Float32Exponent),
        StoredElement.Float16 => IndexOfMasked(MemoryMarshal.Cast<byte, ushort>(raw), Float16Exponent),
        StoredElement.Float64 => IndexOfMasked(MemoryMarshal.Cast<byte, ulong>(raw), Float64Exponent),
        _ => -1,
    };

    public static int IndexOfNonFinite(ReadOnlySpan<float> values) =>
        IndexOfMasked(MemoryMarshal.Cast<float, uint>(values), Float32Exponent);

    /// <summary>Describes a value the scan found, in the words an error message needs.</summary>
    public static string Describe(ReadOnlySpan<byte> raw, StoredElement element, int index) => element switch
    {
        StoredElement.Float32 => Name(MemoryMarshal.Cast<byte, float>(raw)[index]),
        StoredElement.Float16 => Name((double)MemoryMarshal.Cast<byte, Half>(raw)[index]),
        StoredElement.Float64 => Name(MemoryMarshal.Cast<byte, double>(raw)[index]),
        _ => "a finite value",
    };

    public static string Name(double value) =>
        double.IsNaN(value) ? "NaN" : double.IsPositiveInfinity(value) ? "+Infinity" : double.IsNegativeInfinity(value) ? "-Infinity" : value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static int IndexOfMasked<T>(ReadOnlySpan<T> bits, T mask) where T : unmanaged, IBinaryInteger<T>
    {
        int i = 0;
        ref T start = ref MemoryMarshal.GetReference(bits);
        if (Vector512.IsHardwareAccelerated && bits.Length >= Vector512<T>.Count)
        {
            var m = Vector512.Create(mask);
            int last = bits.Length - Vector512<T>.Count;
            for (; i <= last; i += Vector512<T>.Count)
            {
                if (Vector512.EqualsAny(Vector512.LoadUnsafe(ref start, (nuint)i) & m, m)) break;
            }
        }
        else if (Vector256.IsHardwareAccelerated && bits.Length >= Vector256<T>.Count)
        {
            var m = Vector256.Create(mask);
            int last = bits.Length - Vector256<T>.Count;
            // Two vectors per step keep two loads in flight; the data is streamed once, straight from the read.
            for (; i <= last - Vector256<T>.Count; i += 2 * Vector256<T>.Count)
            {
                var a = Vector256.LoadUnsafe(ref start, (nuint)i) & m;
                var b = Vector256.LoadUnsafe(ref start, (nuint)(i + Vector256<T>.Count)) & m;
                if (Vector256.EqualsAny(a, m) || Vector256.EqualsAny(b, m)) break;
            }
        }
        // The tail, or the vector(s) where a hit was seen: scalar finds the exact element.
        for (; i < bits.Length; i++)
        {
            if ((bits[i] & mask) == mask) return i;
        }
        return -1;
    }
}
