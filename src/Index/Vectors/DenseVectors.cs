using System.Runtime.InteropServices;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Vectors;

/// <summary>
/// An in-memory set of <see cref="Count"/> dense vectors of <see cref="Dimension"/> coordinates, row-major,
/// kept in their stored element type (float16 and 8-bit sets are decoded on the fly by the kernels, so a
/// float16 file costs half the memory of its float32 copy). Row ids are 0..Count-1 in file order.
/// One array holds the rows, so an in-memory set is limited to 2 GiB; larger files are read in chunks.
/// </summary>
public sealed class DenseVectors
{
    private readonly byte[] _data;

    public DenseVectors(ElementType elementType, int count, int dimension, byte[] data)
    {
        if (count < 0) Guard.ThrowInvalid($"vector count must be >= 0, got {count}");
        if (dimension <= 0) Guard.ThrowInvalid($"dimension must be >= 1, got {dimension}");
        long expected = (long)count * dimension * elementType.SizeInBytes();
        if (data.LongLength != expected)
            Guard.ThrowInvalid($"vector data holds {data.LongLength} bytes, expected {expected} for {count} x {dimension} {elementType.ToName()}");
        ElementType = elementType;
        Count = count;
        Dimension = dimension;
        _data = data;
    }

    public ElementType ElementType { get; }
    public int Count { get; }
    public int Dimension { get; }
    public int RowBytes => Dimension * ElementType.SizeInBytes();

    /// <summary>All rows as raw bytes in the stored element type.</summary>
    public ReadOnlySpan<byte> RawData => _data;
    public byte[] RawArray => _data;

    public ReadOnlySpan<byte> RawRow(int row) => _data.AsSpan(row * RowBytes, RowBytes);

    public ReadOnlySpan<float> Float32Row(int row) => MemoryMarshal.Cast<byte, float>(RawRow(row));
    public ReadOnlySpan<Half> Float16Row(int row) => MemoryMarshal.Cast<byte, Half>(RawRow(row));
    public ReadOnlySpan<sbyte> Int8Row(int row) => MemoryMarshal.Cast<byte, sbyte>(RawRow(row));
    public ReadOnlySpan<byte> UInt8Row(int row) => RawRow(row);

    /// <summary>Decodes one row to float32 into <paramref name="destination"/> (length >= Dimension).</summary>
    public void CopyRowTo(int row, Span<float> destination)
    {
        destination = destination[..Dimension];
        switch (ElementType)
        {
            case ElementType.Float32: Float32Row(row).CopyTo(destination); break;
            case ElementType.Float16:
                {
                    var src = Float16Row(row);
                    for (int i = 0; i < src.Length; i++) destination[i] = (float)src[i];
                    break;
                }
            case ElementType.UInt8:
                {
                    var src = UInt8Row(row);
                    for (int i = 0; i < src.Length; i++) destination[i] = src[i];
                    break;
                }
            case ElementType.Int8:
                {
                    var src = Int8Row(row);
                    for (int i = 0; i < src.Length; i++) destination[i] = src[i];
                    break;
                }
        }
    }

    /// <summary>A float32 copy of the whole set (the same object when it already is float32).</summary>
    public DenseVectors ToFloat32()
    {
        if (ElementType == ElementType.Float32) return this;
        var result = new byte[(long)Count * Dimension * sizeof(float)];
        var floats = MemoryMarshal.Cast<byte, float>(result.AsSpan());
        for (int i = 0; i < Count; i++) CopyRowTo(i, floats.Slice(i * Dimension, Dimension));
        return new DenseVectors(ElementType.Float32, Count, Dimension, result);
    }

    public static DenseVectors FromFloat32(float[] rowMajor, int count, int dimension)
    {
        if ((long)count * dimension != rowMajor.LongLength)
            Guard.ThrowInvalid($"{rowMajor.Length} floats cannot be {count} x {dimension} vectors");
        var bytes = MemoryMarshal.AsBytes(rowMajor.AsSpan()).ToArray();
        return new DenseVectors(ElementType.Float32, count, dimension, bytes);
    }

    /// <summary>Rows [start, start+count) as a new set sharing no memory with this one.</summary>
    public DenseVectors Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Count)
            Guard.ThrowInvalid($"rows [{start}, {start + count}) are outside 0..{Count}");
        var bytes = _data.AsSpan(start * RowBytes, count * RowBytes).ToArray();
        return new DenseVectors(ElementType, count, Dimension, bytes);
    }
}
