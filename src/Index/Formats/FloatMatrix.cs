namespace Retrieval.Index.Formats;

/// <summary>A row-major Rows x Columns matrix of float32, e.g. ground-truth scores aligned with an <see cref="IntMatrix"/> of ids.</summary>
public sealed class FloatMatrix : Matrix<float>
{
    public FloatMatrix(int rows, int columns, float[] data) : base(rows, columns, data) { }

    public FloatMatrix(int rows, int columns) : this(rows, columns, new float[checked(rows * columns)]) { }
}
