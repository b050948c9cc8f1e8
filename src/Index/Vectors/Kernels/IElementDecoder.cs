using System.Runtime.Intrinsics;

namespace Retrieval.Index.Vectors.Kernels;

/// <summary>
/// Turns stored coordinates of type <typeparamref name="TElement"/> into float32 lanes, so a float32 query can be
/// scored against float16 / int8 / uint8 rows without a float32 copy of the base. Implementations are structs used
/// as generic arguments: the JIT specialises every kernel per decoder, so the inner loop has no dispatch.
/// </summary>
internal interface IElementDecoder<TElement> where TElement : unmanaged
{
    /// <summary>The element type this decoder reads.</summary>
    static abstract ElementType StoredType { get; }

    static abstract float Decode(TElement value);

    /// <summary>Decodes the 16 consecutive elements that start at <paramref name="source"/>.</summary>
    static abstract Vector512<float> Decode512(ref TElement source);

    /// <summary>Decodes the 8 consecutive elements that start at <paramref name="source"/>.</summary>
    static abstract Vector256<float> Decode256(ref TElement source);
}
