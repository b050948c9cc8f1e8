using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>Value checks shared by the dense and score readers, reported with row, column and byte offset.</summary>
internal static class MatrixValidation
{
    /// <summary>Throws when raw rows (starting at file row firstRow, values only) hold NaN or Inf.</summary>
    public static void ThrowIfNonFinite(MatrixFileHeader header, ReadOnlySpan<byte> raw, long firstRow)
    {
        if (!header.Element.IsFloatingPoint()) return;
        int index = NonFiniteScan.IndexOfNonFinite(raw, header.Element);
        if (index < 0) return;
        long row = firstRow + index / header.Dimension;
        int column = index % header.Dimension;
        long offset = header.ByteOffsetOfRow(row) + header.RowPrefixBytes + (long)column * header.Element.SizeInBytes();
        throw new DataFormatException(header.Path,
            $"non-finite value: row {row} column {column} holds {NonFiniteScan.Describe(raw, header.Element, index)} ({header.Element.ToName()}), expected a finite number (allow it with AllowNonFinite)",
            row: row, byteOffset: offset, kind: ErrorKind.InvalidInput);
    }

    public static int RowsToRead(MatrixFileHeader header, long? maxRows, string what)
    {
        long rows = Math.Min(header.Count, maxRows ?? long.MaxValue);
        long bytes = rows * header.RowDataBytes;
        if (rows > int.MaxValue || bytes > Array.MaxLength)
            throw new RetrievalException(ErrorKind.ResourceExhausted,
                $"{header.Path}: {rows} rows x {header.Dimension} {header.Element.ToName()} = {bytes} bytes exceeds one in-memory {what} (2 GiB); read it in chunks with DenseVectorFile.OpenReader or pass MaxRows");
        return (int)rows;
    }
}
