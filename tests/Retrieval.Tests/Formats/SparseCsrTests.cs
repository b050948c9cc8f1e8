using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Formats.FormatAssert;

namespace Retrieval.Tests.Formats;

public class SparseCsrTests
{
    private readonly string _dir = TestData.TempDirectory();

    // 3 rows over 10 columns: indptr at byte 24, indices at 56, values at 76.
    private static readonly long[] Indptr = [0, 2, 3, 5];
    private static readonly int[] Indices = [1, 4, 9, 0, 3];
    private static readonly float[] Values = [0.5f, 1.5f, 2f, 0.25f, 3f];

    private string WriteCsr(string name, long nrow = 3, long ncol = 10, long? nnz = null, long[]? indptr = null, int[]? indices = null, float[]? values = null)
    {
        indices ??= Indices;
        return Write(_dir, name, [.. Int64s(nrow, ncol, nnz ?? indices.Length), .. Int64s(indptr ?? Indptr), .. Int32s(indices), .. Floats(values ?? Values)]);
    }

    [Fact]
    public void HandWrittenFileReads()
    {
        var m = SparseCsrFile.Read(WriteCsr("ok.csr"));
        Assert.Equal((3, 10, 5L), (m.RowCount, m.ColumnCount, m.NonZeroCount));
        var row2 = m.Row(2);
        Assert.Equal(new[] { 0, 3 }, row2.Indices.ToArray());
        Assert.Equal(new[] { 0.25f, 3f }, row2.Values.ToArray());
    }

    [Fact]
    public void WriteThenReadRoundTrips()
    {
        var path = Path.Combine(_dir, "rt.csr");
        var m = new SparseMatrix(4, 30_522, [0, 3, 3, 4, 6], [5, 100, 30_521, 7, 0, 1], [1f, 2f, 3f, 4f, 5f, 6f]);
        SparseCsrFile.Write(path, m);
        var back = SparseCsrFile.Read(path);
        Assert.Equal(m.RowOffsets, back.RowOffsets);
        Assert.Equal(m.Indices, back.Indices);
        Assert.Equal(m.Values, back.Values);
        Assert.Equal(m.ColumnCount, back.ColumnCount);

        var head = SparseCsrFile.Read(path, new SparseReadOptions { MaxRows = 2 });
        Assert.Equal((2, 3L), (head.RowCount, head.NonZeroCount));
    }

    [Fact]
    public void WritingAnUnsortedRowIsRefused()
    {
        var m = new SparseMatrix(1, 10, [0, 2], [4, 1], [1f, 1f]);
        var ex = Assert.Throws<RetrievalException>(() => SparseCsrFile.Write(Path.Combine(_dir, "bad.csr"), m));
        Assert.Contains("unsorted", ex.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void SizesInconsistentWithTheFileLengthAreReported()
    {
        var path = WriteCsr("short.csr", nnz: 6); // header claims one more non-zero than the file holds
        Fails(() => SparseCsrFile.Read(path), path, null, null, "inconsistent with the file length", "nnz 6", "implies 104 bytes", "holds 96");
    }

    [Fact]
    public void TruncatedHeaderIsReported()
    {
        var path = Write(_dir, "h.csr", Int64s(3, 10));
        Fails(() => SparseCsrFile.Read(path), path, null, byteOffset: 0, "truncated", "24-byte CSR header");
    }

    [Fact]
    public void IndexAtOrAboveTheColumnCountIsOutOfRange()
    {
        var path = WriteCsr("oor.csr", indices: [1, 4, 10, 0, 3]);
        Fails(() => SparseCsrFile.Read(path), path, row: 1, byteOffset: 56 + 8, "index 10", "out of range", "0..9");
    }

    [Fact]
    public void NegativeIndexIsOutOfRange()
    {
        var path = WriteCsr("neg.csr", indices: [1, 4, 9, -1, 3]);
        Fails(() => SparseCsrFile.Read(path), path, row: 2, byteOffset: 56 + 12, "index -1", "out of range");
    }

    [Fact]
    public void UnsortedIndicesInARowAreReported()
    {
        var path = WriteCsr("unsorted.csr", indices: [4, 1, 9, 0, 3]);
        Fails(() => SparseCsrFile.Read(path), path, row: 0, byteOffset: 56 + 4, "unsorted", "1 (entry 1 of the row) follows 4");
    }

    [Fact]
    public void DuplicateIndexInARowIsReported()
    {
        var path = WriteCsr("dup.csr", indices: [1, 4, 9, 3, 3]);
        Fails(() => SparseCsrFile.Read(path), path, row: 2, byteOffset: 56 + 16, "duplicate index 3");
    }

    [Fact]
    public void DecreasingRowOffsetsAreReported()
    {
        var path = WriteCsr("indptr.csr", indptr: [0, 3, 2, 5]);
        Fails(() => SparseCsrFile.Read(path), path, row: 1, byteOffset: 24 + 16, "indptr[2] is 2", "3..5");
    }

    [Fact]
    public void NegativeWeightIsRejectedUnlessAllowed()
    {
        var path = WriteCsr("negw.csr", values: [0.5f, 1.5f, 2f, -0.25f, 3f]);
        var ex = Fails(() => SparseCsrFile.Read(path), path, row: 2, byteOffset: 76 + 12, "-0.25", "non-negative");
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Equal(-0.25f, SparseCsrFile.Read(path, new SparseReadOptions { AllowNegativeWeights = true }).Values[3]);
    }

    [Fact]
    public void NonFiniteWeightIsRejected()
    {
        var path = WriteCsr("nan.csr", values: [0.5f, 1.5f, float.NaN, 0.25f, 3f]);
        Fails(() => SparseCsrFile.Read(path), path, row: 1, byteOffset: 76 + 8, "index 9", "NaN");
    }

    [Fact]
    public void EmptyFileIsRejected()
    {
        var path = Write(_dir, "e.csr", []);
        Fails(() => SparseCsrFile.Read(path), path, null, byteOffset: 0, "file is empty");
    }
}
