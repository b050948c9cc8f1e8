using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>A row-major Rows x Columns matrix of unmanaged values; <see cref="IntMatrix"/> and <see cref="FloatMatrix"/> name its two uses.</summary>
public abstract class Matrix<T> where T : unmanaged
{
    protected Matrix(int rows, int columns, T[] data)
    {
        if (rows < 0) Guard.ThrowInvalid($"row count must be >= 0, got {rows}");
        if (columns <= 0) Guard.ThrowInvalid($"column count must be >= 1, got {columns}");
        if (data.LongLength != (long)rows * columns)
            Guard.ThrowInvalid($"{data.Length} values cannot be a {rows} x {columns} matrix");
        Rows = rows;
        Columns = columns;
        Data = data;
    }

    public int Rows { get; }
    public int Columns { get; }
    public T[] Data { get; }

    public Span<T> Row(int row)
    {
        if ((uint)row >= (uint)Rows) Guard.ThrowInvalid($"row {row} is outside 0..{Rows - 1}");
        return Data.AsSpan(row * Columns, Columns);
    }
}
