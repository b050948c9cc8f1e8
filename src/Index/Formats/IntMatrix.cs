using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>A row-major Rows x Columns matrix of int32, e.g. ground-truth neighbour ids (one query per row, best first).</summary>
public sealed class IntMatrix
{
    public IntMatrix(int rows, int columns, int[] data)
    {
        if (rows < 0) Guard.ThrowInvalid($"row count must be >= 0, got {rows}");
        if (columns <= 0) Guard.ThrowInvalid($"column count must be >= 1, got {columns}");
        if (data.LongLength != (long)rows * columns)
            Guard.ThrowInvalid($"{data.Length} values cannot be a {rows} x {columns} matrix");
        Rows = rows;
        Columns = columns;
        Data = data;
    }

    public IntMatrix(int rows, int columns) : this(rows, columns, new int[checked(rows * columns)]) { }

    public int Rows { get; }
    public int Columns { get; }
    public int[] Data { get; }

    public Span<int> Row(int row)
    {
        if ((uint)row >= (uint)Rows) Guard.ThrowInvalid($"row {row} is outside 0..{Rows - 1}");
        return Data.AsSpan(row * Columns, Columns);
    }
}
