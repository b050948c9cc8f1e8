using Retrieval.Index.Errors;

namespace Retrieval.Index.Vectors;

/// <summary>
/// Sparse vectors in CSR form, the layout of the BigANN sparse format: row i holds the entries
/// [RowOffsets[i], RowOffsets[i+1]) of <see cref="Indices"/> (column = term id, strictly increasing within a
/// row) and <see cref="Values"/>. <see cref="ColumnCount"/> is the vocabulary size; every index is below it.
/// </summary>
public sealed class SparseMatrix
{
    public SparseMatrix(int rowCount, int columnCount, long[] rowOffsets, int[] indices, float[] values)
    {
        if (rowCount < 0) Guard.ThrowInvalid($"row count must be >= 0, got {rowCount}");
        if (columnCount < 0) Guard.ThrowInvalid($"column count must be >= 0, got {columnCount}");
        if (rowOffsets.Length != rowCount + 1)
            Guard.ThrowInvalid($"CSR row offsets have {rowOffsets.Length} entries, expected rows + 1 = {rowCount + 1}");
        if (indices.Length != values.Length)
            Guard.ThrowInvalid($"CSR has {indices.Length} indices but {values.Length} values");
        if (rowOffsets[0] != 0 || rowOffsets[rowCount] != indices.LongLength)
            Guard.ThrowInvalid($"CSR row offsets must run from 0 to nnz = {indices.LongLength}, got {rowOffsets[0]}..{rowOffsets[rowCount]}");
        RowCount = rowCount;
        ColumnCount = columnCount;
        RowOffsets = rowOffsets;
        Indices = indices;
        Values = values;
    }

    public int RowCount { get; }
    public int ColumnCount { get; }
    public long[] RowOffsets { get; }
    public int[] Indices { get; }
    public float[] Values { get; }
    public long NonZeroCount => Indices.LongLength;

    public SparseVector Row(int row)
    {
        int start = checked((int)RowOffsets[row]);
        int length = checked((int)(RowOffsets[row + 1] - RowOffsets[row]));
        return new SparseVector(Indices.AsSpan(start, length), Values.AsSpan(start, length));
    }
}
