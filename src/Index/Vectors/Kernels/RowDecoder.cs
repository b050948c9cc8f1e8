using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Retrieval.Index.Vectors.Kernels;

/// <summary>
/// Decodes a run of stored rows into a float32 scratch block with a padded row stride (the padding is zeroed):
/// the blocked exact-search kernel decodes each base block once and then reuses it for a whole tile of queries.
/// </summary>
internal static class RowDecoder
{
    /// <summary>
    /// rows x dimension stored elements at <paramref name="source"/> become rows x <paramref name="stride"/> floats at
    /// <paramref name="destination"/>; coordinates dimension..stride-1 of every row are set to 0.
    /// </summary>
    public static void DecodeRows<TDecoder, TElement>(ref TElement source, int rows, int dimension, ref float destination, int stride)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        for (int r = 0; r < rows; r++)
        {
            ref TElement src = ref Unsafe.Add(ref source, (nint)r * dimension);
            ref float dst = ref Unsafe.Add(ref destination, (nint)r * stride);
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i <= dimension - 16; i += 16)
                    TDecoder.Decode512(ref Unsafe.Add(ref src, i)).StoreUnsafe(ref dst, (nuint)i);
            }
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i <= dimension - 8; i += 8)
                    TDecoder.Decode256(ref Unsafe.Add(ref src, i)).StoreUnsafe(ref dst, (nuint)i);
            }
            for (; i < dimension; i++) Unsafe.Add(ref dst, i) = TDecoder.Decode(Unsafe.Add(ref src, i));
            for (; i < stride; i++) Unsafe.Add(ref dst, i) = 0f;
        }
    }
}
