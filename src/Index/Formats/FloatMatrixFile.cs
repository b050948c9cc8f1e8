using System.Runtime.InteropServices;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Float matrices (ground-truth scores): reads .fvecs, .fbin and .npy ('&lt;f4', '&lt;f2', or '&lt;f8'
/// narrowed to float32); writes .fvecs, .fbin or .npy ('&lt;f4'). Non-finite values are rejected unless
/// AllowNonFinite is set (search results pad missing answers with NaN scores).
/// </summary>
public static class FloatMatrixFile
{
    public static FloatMatrix Read(string path, DenseReadOptions? options = null)
    {
        options ??= DenseReadOptions.Default;
        options.Validate();
        var header = MatrixFileHeader.Read(path);
        if (!header.Element.IsFloatingPoint())
            throw new DataFormatException(path,
                $"holds {header.Element.ToName()} values, expected a float matrix (.fvecs, .fbin, or .npy of '<f4'/'<f2'/'<f8')",
                byteOffset: 0, kind: ErrorKind.Incompatible);
        int rows = MatrixValidation.RowsToRead(header, options.MaxRows, "matrix");
        var raw = GC.AllocateUninitializedArray<byte>(rows * header.RowDataBytes);
        using (var source = new MatrixRowSource(header))
        {
            source.ReadRows(raw, rows);
            source.EnsureAtEnd();
        }
        if (!options.AllowNonFinite) MatrixValidation.ThrowIfNonFinite(header, raw, 0);
        var data = new float[rows * header.Dimension];
        switch (header.Element)
        {
            case StoredElement.Float32:
                raw.AsSpan().CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
                break;
            case StoredElement.Float16:
                {
                    var half = MemoryMarshal.Cast<byte, Half>(raw.AsSpan());
                    for (int i = 0; i < half.Length; i++) data[i] = (float)half[i];
                    break;
                }
            case StoredElement.Float64:
                NarrowFloat64(header, raw, data, options.AllowNonFinite);
                break;
        }
        return new FloatMatrix(rows, header.Dimension, data);
    }

    public static void Write(string path, FloatMatrix matrix)
    {
        var format = MatrixFileFormats.FromPath(path);
        if (format is not (MatrixFileFormat.Fvecs or MatrixFileFormat.Fbin or MatrixFileFormat.Npy) || FormatFiles.IsGzip(path))
            throw new RetrievalException(ErrorKind.InvalidInput, $"{path}: a float matrix is written as .fvecs, .fbin or .npy");
        MatrixFileWriter.Write(path, format, StoredElement.Float32, matrix.Rows, matrix.Columns,
            MemoryMarshal.AsBytes(matrix.Data.AsSpan()));
    }

    private static void NarrowFloat64(MatrixFileHeader header, byte[] raw, float[] data, bool allowNonFinite)
    {
        var wide = MemoryMarshal.Cast<byte, double>(raw.AsSpan());
        for (int i = 0; i < wide.Length; i++)
        {
            double v = wide[i];
            float f = (float)v;
            if (!allowNonFinite && double.IsFinite(v) && !float.IsFinite(f))
            {
                long row = i / header.Dimension;
                int column = i % header.Dimension;
                throw new DataFormatException(header.Path,
                    $"float64 value {v} at row {row} column {column} is outside the float32 range",
                    row: row, byteOffset: header.ByteOffsetOfRow(row) + 8L * column, kind: ErrorKind.InvalidInput);
            }
            data[i] = f;
        }
    }
}
