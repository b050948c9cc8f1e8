using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>A row-major Rows x Columns matrix of float32, e.g. ground-truth scores aligned with an <see cref="IntMatrix"/> of ids.</summary>
public sealed class FloatMatrix
{
    public FloatMatrix(int rows, int columns, float[] data)
    {
        if (rows < 0) Guard.ThrowInvalid($"row count must be >= 0, got {rows}");
        if (columns <= 0) Guard.ThrowInvalid($"column count must be >= 1, got {columns}");
        if (data.LongLength != (long)rows * columns)
            Guard.ThrowInvalid($"{data.Length} values cannot be a {rows} x {columns} matrix");
        Rows = rows;
        Columns = columns;
        Data = data;
    }

    public FloatMatrix(int rows, int columns) : this(rows, columns, new float[checked(rows * columns)]) { }

    public int Rows { get; }
    public int Columns { get; }
    public float[] Data { get; }

    public Span<float> Row(int row)
    {
        if ((uint)row >= (uint)Rows) Guard.ThrowInvalid($"row {row} is outside 0..{Rows - 1}");
        return Data.AsSpan(row * Columns, Columns);
    }
}
