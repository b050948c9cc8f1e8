namespace Retrieval.Index.Formats;

/// <summary>A row-major Rows x Columns matrix of int32, e.g. ground-truth neighbour ids (one query per row, best first).</summary>
public sealed class IntMatrix : Matrix<int>
{
    public IntMatrix(int rows, int columns, int[] data) : base(rows, columns, data) { }

    public IntMatrix(int rows, int columns) : this(rows, columns, new int[checked(rows * columns)]) { }
}
