using System.Runtime.InteropServices;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Integer matrices (ground-truth ids): .ivecs, .ibin and .npy ('&lt;i4', or '&lt;i8' when every value fits
/// in int32). Writes .ivecs, .ibin or .npy ('&lt;i4') by extension, atomically.
/// </summary>
public static class IntMatrixFile
{
    public static IntMatrix Read(string path, long? maxRows = null)
    {
        if (maxRows is < 0) Guard.ThrowInvalid($"maxRows must be >= 0, got {maxRows}");
        var header = MatrixFileHeader.Read(path);
        if (header.Element is not (StoredElement.Int32 or StoredElement.Int64))
            throw new DataFormatException(path,
                $"holds {header.Element.ToName()} values, expected an integer matrix (.ivecs, .ibin, or .npy of '<i4'/'<i8')",
                byteOffset: 0, kind: ErrorKind.Incompatible);
        int rows = MatrixValidation.RowsToRead(header, maxRows, "matrix");
        var raw = GC.AllocateUninitializedArray<byte>(rows * header.RowDataBytes);
        using (var source = new MatrixRowSource(header))
        {
            source.ReadRows(raw, rows);
            source.EnsureAtEnd();
        }
        int[] data;
        if (header.Element == StoredElement.Int32)
        {
            data = new int[rows * header.Dimension];
            raw.AsSpan().CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
        }
        else
        {
            data = NarrowInt64(header, raw);
        }
        return new IntMatrix(rows, header.Dimension, data);
    }

    public static void Write(string path, IntMatrix matrix)
    {
        var format = MatrixFileFormats.FromPath(path);
        if (format is not (MatrixFileFormat.Ivecs or MatrixFileFormat.Ibin or MatrixFileFormat.Npy) || FormatFiles.IsGzip(path))
            throw new RetrievalException(ErrorKind.InvalidInput, $"{path}: an integer matrix is written as .ivecs, .ibin or .npy");
        MatrixFileWriter.Write(path, format, StoredElement.Int32, matrix.Rows, matrix.Columns,
            MemoryMarshal.AsBytes(matrix.Data.AsSpan()));
    }

    private static int[] NarrowInt64(MatrixFileHeader header, byte[] raw)
    {
        var wide = MemoryMarshal.Cast<byte, long>(raw.AsSpan());
        var data = new int[wide.Length];
        for (int i = 0; i < wide.Length; i++)
        {
            long v = wide[i];
            if (v is < int.MinValue or > int.MaxValue)
            {
                long row = i / header.Dimension;
                int column = i % header.Dimension;
                throw new DataFormatException(header.Path,
                    $"int64 value {v} at row {row} column {column} does not fit in int32 (expected ids in {int.MinValue}..{int.MaxValue})",
                    row: row, byteOffset: header.ByteOffsetOfRow(row) + 8L * column, kind: ErrorKind.Incompatible);
            }
            data[i] = (int)v;
        }
        return data;
    }
}
