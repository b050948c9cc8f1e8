using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Streams a dense vector file in consecutive chunks of rows (row ids continue across chunks: the first row of
/// a chunk is <see cref="RowsRead"/> before the call). Each chunk is validated like a whole-file read.
/// </summary>
public sealed class DenseVectorReader : IDisposable
{
    private const int DefaultChunkBytes = 64 << 20;

    private readonly MatrixFileHeader _header;
    private readonly MatrixRowSource _source;
    private readonly DenseReadOptions _options;
    private readonly long _rowLimit;

    internal DenseVectorReader(MatrixFileHeader header, DenseFileInfo info, int chunkRows, DenseReadOptions options)
    {
        _header = header;
        _options = options;
        Info = info;
        _rowLimit = Math.Min(header.Count, options.MaxRows ?? long.MaxValue);
        ChunkRows = chunkRows > 0 ? chunkRows : Math.Max(1, DefaultChunkBytes / info.RowBytes);
        _source = new MatrixRowSource(header);
    }

    public DenseFileInfo Info { get; }
    public int ChunkRows { get; }
    public long RowsRead => _source.NextRow;
    public long RowsRemaining => _rowLimit - _source.NextRow;

    /// <summary>The next chunk of up to <see cref="ChunkRows"/> rows, or null after the last row.</summary>
    public DenseVectors? ReadChunk()
    {
        int rows = (int)Math.Min(ChunkRows, RowsRemaining);
        if (rows == 0) return null;
        var data = GC.AllocateUninitializedArray<byte>(checked(rows * Info.RowBytes));
        ReadInto(data, rows);
        return new DenseVectors(Info.ElementType, rows, Info.Dimension, data);
    }

    /// <summary>
    /// Reads as many whole rows as fit in <paramref name="destination"/> (raw values in the stored element type)
    /// without allocating; returns the number of rows, 0 at the end.
    /// </summary>
    public int ReadRows(Span<byte> destination)
    {
        if (destination.Length < Info.RowBytes && RowsRemaining > 0)
            Guard.ThrowInvalid($"destination holds {destination.Length} bytes, less than one row ({Info.RowBytes})");
        int rows = (int)Math.Min(destination.Length / Info.RowBytes, RowsRemaining);
        if (rows == 0) return 0;
        ReadInto(destination, rows);
        return rows;
    }

    private void ReadInto(Span<byte> destination, int rows)
    {
        long first = _source.NextRow;
        _source.ReadRows(destination, rows);
        _source.EnsureAtEnd();
        if (!_options.AllowNonFinite)
            MatrixValidation.ThrowIfNonFinite(_header, destination[..(rows * Info.RowBytes)], first);
    }

    public void Dispose() => _source.Dispose();
}
