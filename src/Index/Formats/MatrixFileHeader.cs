using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>
/// What any matrix container (vecs, big-ann bin, npy, IDX) says about its contents, validated against the
/// file's length before a single row is read: a header that claims more rows than the file holds, or a file
/// with bytes the header does not account for, is reported here with expected and found sizes.
/// </summary>
internal sealed class MatrixFileHeader
{
    /// <summary>Rows wider than this are taken as a sign the file is not in the format its name says.</summary>
    public const int MaxDimension = 1 << 24;

    public required string Path { get; init; }
    public required MatrixFileFormat Format { get; init; }
    public required StoredElement Element { get; init; }
    public required long Count { get; init; }
    public required int Dimension { get; init; }
    /// <summary>Byte offset of row 0 (of its dimension prefix for vecs files); in the decompressed stream when gzipped.</summary>
    public required long DataOffset { get; init; }
    public required bool Compressed { get; init; }
    /// <summary>File length in bytes; -1 when gzipped (unknown until read).</summary>
    public required long FileLength { get; init; }

    public int RowPrefixBytes => Format.HasRowPrefix() ? sizeof(int) : 0;
    public int RowDataBytes => Dimension * Element.SizeInBytes();
    public int RowStrideBytes => RowPrefixBytes + RowDataBytes;

    public long ByteOffsetOfRow(long row) => DataOffset + row * RowStrideBytes;

    public static MatrixFileHeader Read(string path)
    {
        var format = MatrixFileFormats.FromPath(path);
        if (format == MatrixFileFormat.Idx && FormatFiles.IsGzip(path)) return ReadGzipIdx(path);
        using var handle = FormatFiles.OpenHandle(path);
        long length = RandomAccess.GetLength(handle);
        if (length == 0)
            throw new DataFormatException(path, $"file is empty: expected a {format.ToName()} file with at least a header or one row", byteOffset: 0);
        return format switch
        {
            MatrixFileFormat.Fvecs => ReadVecs(path, handle, length, format, StoredElement.Float32),
            MatrixFileFormat.Ivecs => ReadVecs(path, handle, length, format, StoredElement.Int32),
            MatrixFileFormat.Bvecs => ReadVecs(path, handle, length, format, StoredElement.UInt8),
            MatrixFileFormat.Fbin => ReadBin(path, handle, length, format, StoredElement.Float32),
            MatrixFileFormat.U8bin => ReadBin(path, handle, length, format, StoredElement.UInt8),
            MatrixFileFormat.I8bin => ReadBin(path, handle, length, format, StoredElement.Int8),
            MatrixFileFormat.Ibin => ReadBin(path, handle, length, format, StoredElement.Int32),
            MatrixFileFormat.Npy => ReadNpy(path, handle, length),
            MatrixFileFormat.Idx => ReadIdx(path, handle, length),
            _ => throw new ArgumentOutOfRangeException(nameof(path)),
        };
    }

    private static MatrixFileHeader ReadVecs(string path, SafeFileHandle handle, long length, MatrixFileFormat format, StoredElement element)
    {
        Span<byte> prefix = stackalloc byte[4];
        if (FormatFiles.ReadAt(handle, prefix, 0) < 4)
            throw new DataFormatException(path, $"file holds {length} bytes: expected at least the 4-byte dimension of row 0", row: 0, byteOffset: 0);
        int dimension = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        if (dimension <= 0 || dimension > MaxDimension)
            throw new DataFormatException(path,
                $"row 0 starts with dimension {dimension}: expected a dimension in 1..{MaxDimension} (is this really a .{format.ToName()} file?)",
                row: 0, byteOffset: 0);
        long stride = 4 + (long)dimension * element.SizeInBytes();
        long count = length / stride;
        var header = new MatrixFileHeader
        {
            Path = path,
            Format = format,
            Element = element,
            Count = count,
            Dimension = dimension,
            DataOffset = 0,
            Compressed = false,
            FileLength = length,
        };
        if (length % stride != 0) header.ThrowVecsLengthProblem(handle);
        return header;
    }

    /// <summary>
    /// A vecs file whose length is not a whole number of rows is either truncated or has a row of another
    /// dimension; only a scan of the row prefixes tells which, and this runs only once the file is known bad.
    /// </summary>
    private void ThrowVecsLengthProblem(SafeFileHandle handle)
    {
        // Prefixes are checked a few MiB of file at a time, so even a huge bad file is diagnosed quickly.
        int rowsPerBlock = Math.Max(1, (4 << 20) / RowStrideBytes);
        var block = new byte[(long)rowsPerBlock * RowStrideBytes];
        long row = 0;
        long offset = 0;
        while (true)
        {
            int got = FormatFiles.ReadAt(handle, block, offset);
            for (int start = 0; start + 4 <= got; start += RowStrideBytes, row++, offset += RowStrideBytes)
            {
                int found = BinaryPrimitives.ReadInt32LittleEndian(block.AsSpan(start));
                if (found != Dimension)
                    throw new DataFormatException(Path,
                        $"dimension mismatch: row {row} declares dimension {found}, expected {Dimension} (the dimension of row 0)",
                        row: row, byteOffset: offset);
                if (offset + RowStrideBytes > FileLength)
                {
                    throw new DataFormatException(Path,
                        $"truncated: the last row {row} is incomplete, expected {RowStrideBytes} bytes (4-byte dimension + {Dimension} x {Element.ToName()}), found {FileLength - offset}",
                        row: row, byteOffset: offset);
                }
            }
            if (got < block.Length)
            {
                // Fewer than 4 bytes of a row remain: not even its dimension is there.
                throw new DataFormatException(Path,
                    $"truncated: the last row {row} is incomplete, expected {RowStrideBytes} bytes (4-byte dimension + {Dimension} x {Element.ToName()}), found {FileLength - offset}",
                    row: row, byteOffset: offset);
            }
        }
    }

    private static MatrixFileHeader ReadBin(string path, SafeFileHandle handle, long length, MatrixFileFormat format, StoredElement element)
    {
        Span<byte> head = stackalloc byte[8];
        if (FormatFiles.ReadAt(handle, head, 0) < 8)
            throw new DataFormatException(path, $"file holds {length} bytes: expected an 8-byte header (uint32 count, uint32 dimension)", byteOffset: 0);
        long count = BinaryPrimitives.ReadUInt32LittleEndian(head);
        long dimension = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
        CheckDimension(path, dimension, format, 4);
        var header = new MatrixFileHeader
        {
            Path = path,
            Format = format,
            Element = element,
            Count = count,
            Dimension = (int)dimension,
            DataOffset = 8,
            Compressed = false,
            FileLength = length,
        };
        header.CheckLength($"header (count {count}, dimension {dimension})");
        return header;
    }

    private static MatrixFileHeader ReadNpy(string path, SafeFileHandle handle, long length)
    {
        var npy = NpyHeader.Read(path, handle, length);
        long columns = npy.Columns;
        if (npy.Rows > 0) CheckDimension(path, columns, MatrixFileFormat.Npy, 10);
        var header = new MatrixFileHeader
        {
            Path = path,
            Format = MatrixFileFormat.Npy,
            Element = npy.Element,
            Count = npy.Rows,
            Dimension = (int)Math.Max(columns, 1),
            DataOffset = npy.DataOffset,
            Compressed = false,
            FileLength = length,
        };
        header.CheckLength($"npy shape {npy.ShapeText} of {npy.Element.ToName()}");
        return header;
    }

    private static MatrixFileHeader ReadIdx(string path, SafeFileHandle handle, long length)
    {
        Span<byte> head = stackalloc byte[4 + 4 * 8];
        int got = FormatFiles.ReadAt(handle, head, 0);
        var header = ParseIdx(path, head[..got], compressed: false, length);
        header.CheckLength($"IDX header (count {header.Count}, {header.Dimension} bytes per item)");
        return header;
    }

    private static MatrixFileHeader ReadGzipIdx(string path)
    {
        using var stream = new GZipStream(FormatFiles.OpenSequential(path), CompressionMode.Decompress);
        Span<byte> head = stackalloc byte[4 + 4 * 8];
        int got;
        try
        {
            got = FormatFiles.ReadFully(stream, head[..4]);
            if (got == 4 && head[0] == 0 && head[1] == 0 && head[3] is >= 1 and <= 8)
                got += FormatFiles.ReadFully(stream, head.Slice(4, 4 * head[3]));
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, $"not a valid gzip stream: {e.Message}", byteOffset: 0, inner: e);
        }
        if (got == 0)
            throw new DataFormatException(path, "file is empty after decompression: expected an IDX header", byteOffset: 0);
        return ParseIdx(path, head[..got], compressed: true, fileLength: -1);
    }

    /// <summary>IDX: bytes 0-1 zero, byte 2 the element type (0x08 ubyte, 0x09 sbyte), byte 3 the axis count, then big-endian uint32 axes.</summary>
    private static MatrixFileHeader ParseIdx(string path, ReadOnlySpan<byte> head, bool compressed, long fileLength)
    {
        string where = compressed ? " (decompressed)" : "";
        if (head.Length < 4 || head[0] != 0 || head[1] != 0 || head[3] == 0 || head[3] > 8)
        {
            var found = head.Length >= 4 ? "0x" + BinaryPrimitives.ReadUInt32BigEndian(head).ToString("X8") : $"{head.Length} bytes";
            throw new DataFormatException(path, $"wrong IDX magic{where}: expected 0x000008NN (0x00000803 for images: ubyte, 3 axes), found {found}", byteOffset: 0);
        }
        StoredElement element = head[2] switch
        {
            0x08 => StoredElement.UInt8,
            0x09 => StoredElement.Int8,
            _ => throw new DataFormatException(path,
                $"IDX element type 0x{head[2]:X2} ({IdxTypeName(head[2])}) is not supported: expected 0x08 (unsigned byte) or 0x09 (signed byte)",
                byteOffset: 2, kind: ErrorKind.Incompatible),
        };
        int axes = head[3];
        int headerBytes = 4 + 4 * axes;
        if (head.Length < headerBytes)
            throw new DataFormatException(path, $"truncated IDX header{where}: {axes} axes need {headerBytes} bytes, found {head.Length}", byteOffset: head.Length);
        long count = BinaryPrimitives.ReadUInt32BigEndian(head[4..]);
        long dimension = 1;
        for (int a = 1; a < axes; a++)
        {
            dimension *= BinaryPrimitives.ReadUInt32BigEndian(head[(4 + 4 * a)..]);
            if (dimension > MaxDimension) break;
        }
        CheckDimension(path, dimension, MatrixFileFormat.Idx, 8);
        return new MatrixFileHeader
        {
            Path = path,
            Format = MatrixFileFormat.Idx,
            Element = element,
            Count = count,
            Dimension = (int)dimension,
            DataOffset = headerBytes,
            Compressed = compressed,
            FileLength = fileLength,
        };
    }

    private static string IdxTypeName(byte type) => type switch
    {
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "unknown",
    };

    private static void CheckDimension(string path, long dimension, MatrixFileFormat format, long offset)
    {
        if (dimension <= 0 || dimension > MaxDimension)
            throw new DataFormatException(path,
                $"header declares dimension {dimension}: expected 1..{MaxDimension} (is this really a .{format.ToName()} file?)",
                byteOffset: offset);
    }

    /// <summary>Header-declared size against the file's length: short means truncated, long means a wrong header.</summary>
    private void CheckLength(string claim)
    {
        long held = FileLength - DataOffset;
        // Int128: a hostile npy shape can overflow 64 bits.
        Int128 expectedWide = (Int128)Count * RowStrideBytes;
        if (expectedWide > held)
        {
            long row = held / RowStrideBytes;
            throw new DataFormatException(Path,
                $"truncated: {claim} needs {expectedWide} data bytes ({Count} rows of {RowStrideBytes}), the file holds {held}; row {row} is incomplete",
                row: row, byteOffset: DataOffset + row * RowStrideBytes);
        }
        long expectedData = (long)expectedWide;
        if (held > expectedData)
            throw new DataFormatException(Path,
                $"wrong header: {claim} accounts for {expectedData} data bytes, but the file holds {held} ({held - expectedData} unexplained bytes after row {Count - 1})",
                byteOffset: DataOffset + expectedData);
    }
}
