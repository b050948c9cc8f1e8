using System.Buffers.Binary;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Index.Formats;

/// <summary>Writes a row-major matrix of raw little-endian elements in any writable container, atomically.</summary>
internal static class MatrixFileWriter
{
    public static void Write(string path, MatrixFileFormat format, StoredElement element, int rows, int columns, ReadOnlySpan<byte> raw)
    {
        int rowBytes = columns * element.SizeInBytes();
        if (raw.Length != (long)rows * rowBytes)
            throw new ArgumentException($"{raw.Length} bytes cannot be {rows} x {columns} {element.ToName()}", nameof(raw));
        using var file = new AtomicFile(path);
        var stream = file.Stream;
        Span<byte> head = stackalloc byte[8];
        switch (format)
        {
            case MatrixFileFormat.Fvecs or MatrixFileFormat.Ivecs or MatrixFileFormat.Bvecs:
                BinaryPrimitives.WriteInt32LittleEndian(head, columns);
                for (int r = 0; r < rows; r++)
                {
                    stream.Write(head[..4]);
                    stream.Write(raw.Slice(r * rowBytes, rowBytes));
                }
                break;
            case MatrixFileFormat.Fbin or MatrixFileFormat.U8bin or MatrixFileFormat.I8bin or MatrixFileFormat.Ibin:
                BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)rows);
                BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)columns);
                stream.Write(head);
                stream.Write(raw);
                break;
            case MatrixFileFormat.Npy:
                stream.Write(NpyHeader.Encode(element, rows, columns));
                stream.Write(raw);
                break;
            default:
                throw new RetrievalException(ErrorKind.InvalidInput, $"{path}: writing .{format.ToName()} files is not supported");
        }
        file.Commit();
    }

    /// <summary>The element type a fixed-type container holds; null for npy, which holds any.</summary>
    public static StoredElement? FixedElement(MatrixFileFormat format) => format switch
    {
        MatrixFileFormat.Fvecs or MatrixFileFormat.Fbin => StoredElement.Float32,
        MatrixFileFormat.Ivecs or MatrixFileFormat.Ibin => StoredElement.Int32,
        MatrixFileFormat.Bvecs or MatrixFileFormat.U8bin => StoredElement.UInt8,
        MatrixFileFormat.I8bin => StoredElement.Int8,
        MatrixFileFormat.Idx => StoredElement.UInt8,
        _ => null,
    };
}
