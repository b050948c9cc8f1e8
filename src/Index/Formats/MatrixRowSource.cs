using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Reads consecutive rows of a matrix file into caller memory: contiguous layouts go straight from the file
/// into the destination in one bulk read; vecs layouts are read in large blocks and their per-row dimension
/// prefixes checked and stripped. Truncation found mid-read (gzip, or a file that shrank) names the row.
/// </summary>
internal sealed class MatrixRowSource : IDisposable
{
    private const int VecsBlockBytes = 1 << 20;

    private readonly MatrixFileHeader _header;
    private readonly Stream _stream;
    private byte[]? _block;

    public MatrixRowSource(MatrixFileHeader header)
    {
        _header = header;
        if (header.Compressed)
        {
            _stream = new GZipStream(FormatFiles.OpenSequential(header.Path), CompressionMode.Decompress);
            Skip(_stream, header.DataOffset);
        }
        else
        {
            _stream = FormatFiles.OpenSequential(header.Path, header.DataOffset);
        }
    }

    public MatrixFileHeader Header => _header;
    public long NextRow { get; private set; }
    public long RowsRemaining => _header.Count - NextRow;

    /// <summary>Reads the next <paramref name="rows"/> rows' values (no prefixes) into destination.</summary>
    public void ReadRows(Span<byte> destination, int rows)
    {
        if (rows > RowsRemaining)
            throw new ArgumentOutOfRangeException(nameof(rows), $"{rows} rows asked, {RowsRemaining} left");
        int rowBytes = _header.RowDataBytes;
        destination = destination[..checked(rows * rowBytes)];
        try
        {
            if (_header.RowPrefixBytes == 0) ReadContiguous(destination, rows, rowBytes);
            else ReadPrefixed(destination, rows, rowBytes);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(_header.Path, $"gzip data is corrupt near row {NextRow}: {e.Message}", row: NextRow, inner: e);
        }
    }

    /// <summary>After the last row: a gzipped file must hold nothing more (plain files were sized up front).</summary>
    public void EnsureAtEnd()
    {
        if (!_header.Compressed || RowsRemaining != 0) return;
        Span<byte> one = stackalloc byte[1];
        if (FormatFiles.ReadFully(_stream, one) != 0)
            throw new DataFormatException(_header.Path,
                $"wrong header: the IDX header declares {_header.Count} items of {_header.RowDataBytes} bytes, but more data follows them (decompressed)",
                row: _header.Count, byteOffset: _header.ByteOffsetOfRow(_header.Count));
    }

    private void ReadContiguous(Span<byte> destination, int rows, int rowBytes)
    {
        int got = FormatFiles.ReadFully(_stream, destination);
        if (got < destination.Length)
        {
            long row = NextRow + got / rowBytes;
            ThrowTruncated(row, got % rowBytes);
        }
        NextRow += rows;
    }

    private void ReadPrefixed(Span<byte> destination, int rows, int rowBytes)
    {
        int stride = _header.RowStrideBytes;
        int rowsPerBlock = Math.Max(1, VecsBlockBytes / stride);
        _block ??= ArrayPool<byte>.Shared.Rent(rowsPerBlock * stride);
        int done = 0;
        while (done < rows)
        {
            int batch = Math.Min(rowsPerBlock, rows - done);
            var block = _block.AsSpan(0, batch * stride);
            int got = FormatFiles.ReadFully(_stream, block);
            int whole = got / stride;
            for (int r = 0; r < whole; r++)
            {
                var row = block.Slice(r * stride, stride);
                CheckPrefix(row, NextRow + r);
                row[4..].CopyTo(destination.Slice((done + r) * rowBytes, rowBytes));
            }
            if (got < block.Length)
            {
                long row = NextRow + whole;
                if (got - whole * stride >= 4) CheckPrefix(block[(whole * stride)..], row);
                ThrowTruncated(row, got - whole * stride);
            }
            NextRow += batch;
            done += batch;
        }
    }

    private void CheckPrefix(ReadOnlySpan<byte> row, long rowIndex)
    {
        int found = BinaryPrimitives.ReadInt32LittleEndian(row);
        if (found != _header.Dimension)
            throw new DataFormatException(_header.Path,
                $"dimension mismatch: row {rowIndex} declares dimension {found}, expected {_header.Dimension} (the dimension of row 0)",
                row: rowIndex, byteOffset: _header.ByteOffsetOfRow(rowIndex));
    }

    private void ThrowTruncated(long row, int bytesOfRow)
    {
        string where = _header.Compressed ? " (decompressed)" : "";
        throw new DataFormatException(_header.Path,
            $"truncated{where}: the header declares {_header.Count} rows of {_header.RowStrideBytes} bytes, but the data ends inside row {row} ({bytesOfRow} of {_header.RowStrideBytes} bytes present)",
            row: row, byteOffset: _header.ByteOffsetOfRow(row) + bytesOfRow);
    }

    private static void Skip(Stream stream, long bytes)
    {
        Span<byte> scratch = stackalloc byte[256];
        while (bytes > 0)
        {
            int n = stream.Read(scratch[..(int)Math.Min(bytes, scratch.Length)]);
            if (n == 0) break;
            bytes -= n;
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        if (_block is not null)
        {
            ArrayPool<byte>.Shared.Return(_block);
            _block = null;
        }
    }
}
