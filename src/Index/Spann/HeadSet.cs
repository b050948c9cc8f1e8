using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Retrieval.Index.Errors;
using Retrieval.Index.Graphs;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>
/// The heads kept in memory (SPANN's centroids): their rows in the head element type (the input's own type when
/// it is float16 or uint8, exactly and in a half or a quarter of float32's bytes, which the navigation graph's
/// random row reads are bound by; else float32), inverse norms for cosine, and which base row each head is.
/// </summary>
internal sealed class HeadSet
{
    private HeadSet(int count, int dimension, ElementType element, int[] rowIds, float[] inverseNorms, float[]? f32, Half[]? f16, byte[]? u8 = null)
    {
        UInt8 = u8;
        Count = count;
        Dimension = dimension;
        Element = element;
        RowIds = rowIds;
        InverseNorms = inverseNorms;
        Float32 = f32;
        Float16 = f16;
    }

    public int Count { get; }
    public int Dimension { get; }
    public ElementType Element { get; }
    public int[] RowIds { get; }
    public float[] InverseNorms { get; }
    internal float[]? Float32 { get; }
    internal Half[]? Float16 { get; }
    internal byte[]? UInt8 { get; }

    public long ResidentBytes => (long)Count * (8 + Dimension * Element.SizeInBytes());

    internal static HeadSet Deserialize(string path, byte[] payload, int expectedCount, int expectedDimension, ElementType expectedElement, int vectorCount)
    {
        if (payload.Length < 12) throw new DataFormatException(path, "heads payload shorter than its 12-byte header");
        int count = BinaryPrimitives.ReadInt32LittleEndian(payload);
        int d = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(4));
        var element = (ElementType)BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(8));
        long expectedBytes = 12 + (long)expectedCount * 8 + (long)expectedCount * expectedDimension * expectedElement.SizeInBytes();
        if (count != expectedCount || d != expectedDimension || element != expectedElement || payload.Length != expectedBytes)
            throw new DataFormatException(path,
                $"heads header says {count} heads of dimension {d} ({element}) in {payload.Length} bytes; the manifest expects {expectedCount} x {expectedDimension} ({expectedElement}), {expectedBytes} bytes");
        var rowIds = MemoryMarshal.Cast<byte, int>(payload.AsSpan(12, count * 4)).ToArray();
        foreach (int id in rowIds)
            if (id < 0 || id >= vectorCount) throw new DataFormatException(path, $"head row id {id} outside 0..{vectorCount - 1}");
        var norms = MemoryMarshal.Cast<byte, float>(payload.AsSpan(12 + count * 4, count * 4)).ToArray();
        var raw = payload.AsSpan(12 + count * 8);
        return element switch
        {
            ElementType.Float16 => new HeadSet(count, d, element, rowIds, norms, null, MemoryMarshal.Cast<byte, Half>(raw).ToArray()),
            ElementType.Float32 => new HeadSet(count, d, element, rowIds, norms, MemoryMarshal.Cast<byte, float>(raw).ToArray(), null),
            ElementType.UInt8 => new HeadSet(count, d, element, rowIds, norms, null, null, raw.ToArray()),
            _ => throw new DataFormatException(path, $"heads stored as {element}; SPANN heads are Float32, Float16 or UInt8"),
        };
    }
}

/// <summary>
/// Scores heads against a query for the graph search: squared L2 (negated), inner product, or cosine as a dot
/// product with a unit query scaled by the head's inverse norm. Generic over the stored element so the loop is monomorphic.
/// </summary>
internal struct HeadScorer<TAccumulator, TDecoder, TElement> : INodeScorer
    where TAccumulator : struct, IDistanceAccumulator
    where TDecoder : struct, IElementDecoder<TElement>
    where TElement : unmanaged
{
    public TElement[] Rows;
    public float[] Query;
    public float[] InverseNorms;
    public int Dimension;
    public bool Negate;
    public bool Scale;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Goodness(int node)
    {
        float s = RowKernel.Reduce<TAccumulator, TDecoder, TElement>(ref MemoryMarshal.GetArrayDataReference(Query),
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Rows), (nint)node * Dimension), Dimension);
        if (Negate) return -s;
        return Scale ? s * InverseNorms[node] : s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly unsafe void Prefetch(int node)
    {
        if (!Sse.IsSupported) return;
        // The first lines start the row's stream; the hardware prefetcher follows the rest of a sequential row.
        byte* row = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Rows), (nint)node * Dimension));
        int bytes = Math.Min(Dimension * sizeof(TElement), 256);
        for (int at = 0; at < bytes; at += 64) Sse.Prefetch0(row + at);
    }
}
