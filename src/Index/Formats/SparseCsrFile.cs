using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Formats;

/// <summary>
/// The BigANN sparse-track CSR file: int64 nrow, ncol, nnz; int64 indptr[nrow+1]; int32 indices[nnz];
/// float32 data[nnz], all little-endian. The three sizes must account for the file's length exactly; every row's
/// indices must be strictly increasing and inside 0..ncol-1, every weight finite (and non-negative unless
/// allowed). Sections are read in bulk straight into the result arrays.
/// </summary>
public static class SparseCsrFile
{
    private const int HeaderBytes = 24;

    public static SparseMatrix Read(string path, SparseReadOptions? options = null)
    {
        options ??= SparseReadOptions.Default;
        options.Validate();
        using var handle = FormatFiles.OpenHandle(path);
        long length = RandomAccess.GetLength(handle);
        if (length == 0)
            throw new DataFormatException(path, "file is empty: expected a 24-byte CSR header (int64 nrow, ncol, nnz)", byteOffset: 0);
        Span<byte> head = stackalloc byte[HeaderBytes];
        if (FormatFiles.ReadAt(handle, head, 0) < HeaderBytes)
            throw new DataFormatException(path, $"truncated: the file holds {length} bytes, expected at least the 24-byte CSR header (int64 nrow, ncol, nnz)", byteOffset: 0);
        long nrow = BinaryPrimitives.ReadInt64LittleEndian(head);
        long ncol = BinaryPrimitives.ReadInt64LittleEndian(head[8..]);
        long nnz = BinaryPrimitives.ReadInt64LittleEndian(head[16..]);
        if (nrow < 0 || ncol < 0 || nnz < 0 || nrow > long.MaxValue / 16 || nnz > long.MaxValue / 16)
            throw new DataFormatException(path, $"CSR header sizes are impossible: nrow {nrow}, ncol {ncol}, nnz {nnz} (expected non-negative sizes)", byteOffset: 0);
        long expected = HeaderBytes + 8 * (nrow + 1) + 8 * nnz;
        if (expected != length)
            throw new DataFormatException(path,
                $"CSR sizes are inconsistent with the file length: header (nrow {nrow}, ncol {ncol}, nnz {nnz}) implies {expected} bytes, the file holds {length}" +
                (expected > length ? " (truncated?)" : " (extra bytes: wrong header?)"),
                byteOffset: expected > length ? length : expected);
        if (nrow >= int.MaxValue || ncol > int.MaxValue)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"{path}: {nrow} rows x {ncol} columns exceeds the in-memory CSR limit of {int.MaxValue - 1} rows and columns");

        int rows = (int)Math.Min(nrow, options.MaxRows ?? long.MaxValue);
        long indptrOffset = HeaderBytes;
        long indicesOffset = indptrOffset + 8 * (nrow + 1);
        long valuesOffset = indicesOffset + 4 * nnz;

        var offsets = new long[rows + 1];
        ReadSection(handle, MemoryMarshal.AsBytes(offsets.AsSpan()), indptrOffset);
        CheckOffsets(path, offsets, rows == nrow, nnz, indptrOffset);
        long nnzRead = offsets[rows];
        if (nnzRead > Array.MaxLength)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"{path}: {nnzRead} non-zeros exceed one in-memory array; pass MaxRows to read fewer rows");

        var indices = new int[nnzRead];
        var values = new float[nnzRead];
        ReadSection(handle, MemoryMarshal.AsBytes(indices.AsSpan()), indicesOffset);
        ReadSection(handle, MemoryMarshal.AsBytes(values.AsSpan()), valuesOffset);
        if (SparseRowCheck.FindProblem(offsets, indices, values, (int)ncol, options.AllowNegativeWeights) is { } problem)
        {
            long offset = (problem.InValues ? valuesOffset : indicesOffset) + 4 * problem.Position;
            throw new DataFormatException(path, problem.Message, row: problem.Row, byteOffset: offset,
                kind: problem.InValues ? ErrorKind.InvalidInput : ErrorKind.Corrupt);
        }
        return new SparseMatrix(rows, (int)ncol, offsets, indices, values);
    }

    /// <summary>Writes the matrix atomically after checking it would read back (sorted, in-range indices, finite weights).</summary>
    public static void Write(string path, SparseMatrix matrix, bool allowNegativeWeights = false)
    {
        if (SparseRowCheck.FindProblem(matrix.RowOffsets, matrix.Indices, matrix.Values, matrix.ColumnCount, allowNegativeWeights) is { } problem)
            Guard.ThrowInvalid($"cannot write {path}: row {problem.Row}: {problem.Message}");
        using var file = new AtomicFile(path);
        Span<byte> head = stackalloc byte[HeaderBytes];
        BinaryPrimitives.WriteInt64LittleEndian(head, matrix.RowCount);
        BinaryPrimitives.WriteInt64LittleEndian(head[8..], matrix.ColumnCount);
        BinaryPrimitives.WriteInt64LittleEndian(head[16..], matrix.NonZeroCount);
        file.Stream.Write(head);
        file.Stream.Write(MemoryMarshal.AsBytes(matrix.RowOffsets.AsSpan()));
        file.Stream.Write(MemoryMarshal.AsBytes(matrix.Indices.AsSpan()));
        file.Stream.Write(MemoryMarshal.AsBytes(matrix.Values.AsSpan()));
        file.Commit();
    }

    private static void ReadSection(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        // Sizes were checked against the file length, so a short read means the file changed underneath us.
        int chunk = 1 << 30;
        for (int done = 0; done < destination.Length; done += chunk)
        {
            var part = destination.Slice(done, Math.Min(chunk, destination.Length - done));
            if (FormatFiles.ReadAt(handle, part, offset + done) < part.Length)
                throw new IOException($"file shrank while reading at byte {offset + done}");
        }
    }

    private static void CheckOffsets(string path, long[] offsets, bool allRows, long nnz, long indptrOffset)
    {
        if (offsets[0] != 0)
            throw new DataFormatException(path, $"indptr[0] is {offsets[0]}, expected 0", row: 0, byteOffset: indptrOffset);
        for (int r = 1; r < offsets.Length; r++)
        {
            if (offsets[r] < offsets[r - 1] || offsets[r] > nnz)
                throw new DataFormatException(path,
                    $"indptr[{r}] is {offsets[r]}: expected a value in {offsets[r - 1]}..{nnz} (row offsets never decrease and end at nnz)",
                    row: r - 1, byteOffset: indptrOffset + 8L * r);
        }
        if (allRows && offsets[^1] != nnz)
            throw new DataFormatException(path, $"indptr[nrow] is {offsets[^1]}, expected nnz = {nnz}",
                row: offsets.Length - 2, byteOffset: indptrOffset + 8L * (offsets.Length - 1));
    }
}
