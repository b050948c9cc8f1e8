using System.Runtime.InteropServices;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Streams float rows into a .npy file of float32 or float16 elements without holding the set in memory: the
/// header is written with room for any row count and rewritten with the real count by <see cref="Complete"/>.
/// Used where a build input is assembled row by row (the engine spools a segment's vectors to disk before a SPANN
/// build, so a compaction of millions of rows never needs them all in the heap).
/// </summary>
public sealed class NpyRowWriter : IDisposable
{
    private const int RowsPerFlush = 1024;
    private readonly FileStream _stream;
    private readonly StoredElement _element;
    private readonly byte[] _buffer;
    private readonly int _rowBytes;
    private int _buffered;
    private bool _completed;

    /// <param name="element">Float32, or Float16 (values beyond float16's range are refused by <see cref="Append"/>).</param>
    public NpyRowWriter(string path, ElementType element, int dimension)
    {
        if (dimension <= 0) Guard.ThrowInvalid($"dimension must be >= 1, got {dimension}");
        if (element is not (ElementType.Float32 or ElementType.Float16))
            Guard.ThrowInvalid($"NpyRowWriter writes float32 or float16 rows, not {element.ToName()}");
        Path = path;
        ElementType = element;
        Dimension = dimension;
        _element = element.ToStored();
        _rowBytes = dimension * element.SizeInBytes();
        _buffer = new byte[_rowBytes * RowsPerFlush];
        _stream = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 1 << 16);
        // The widest count: re-encoding any smaller count yields a header of the same length (checked in Complete).
        _stream.Write(NpyHeader.Encode(_element, int.MaxValue, dimension));
    }

    public string Path { get; }
    public ElementType ElementType { get; }
    public int Dimension { get; }
    public int Rows { get; private set; }

    /// <summary>Appends one row; float16 output throws <see cref="OverflowException"/> for a finite value it cannot hold.</summary>
    public void Append(ReadOnlySpan<float> row)
    {
        if (row.Length != Dimension) Guard.ThrowInvalid($"row has {row.Length} values, the file holds {Dimension}-d rows");
        var target = _buffer.AsSpan(_buffered * _rowBytes, _rowBytes);
        if (ElementType == ElementType.Float32) MemoryMarshal.AsBytes(row).CopyTo(target);
        else
        {
            var halves = MemoryMarshal.Cast<byte, Half>(target);
            for (int i = 0; i < row.Length; i++)
            {
                var h = (Half)row[i];
                if (Half.IsInfinity(h) && float.IsFinite(row[i]))
                    throw new OverflowException($"value {row[i]} at coordinate {i} of row {Rows} is outside float16's range");
                halves[i] = h;
            }
        }
        Rows++;
        if (++_buffered == RowsPerFlush) Flush();
    }

    /// <summary>Writes the real row count into the header and flushes; the file is then a complete .npy.</summary>
    public void Complete()
    {
        Flush();
        var header = NpyHeader.Encode(_element, Rows, Dimension);
        var placeholder = NpyHeader.Encode(_element, int.MaxValue, Dimension);
        if (header.Length != placeholder.Length) throw new InvalidOperationException("npy header length changed with the row count");
        _stream.Position = 0;
        _stream.Write(header);
        _stream.Flush();
        _completed = true;
    }

    private void Flush()
    {
        if (_buffered == 0) return;
        _stream.Write(_buffer, 0, _buffered * _rowBytes);
        _buffered = 0;
    }

    /// <summary>Closes the file; one never completed is deleted (it would claim int.MaxValue rows).</summary>
    public void Dispose()
    {
        _stream.Dispose();
        if (!_completed) File.Delete(Path);
    }
}
