using System.Buffers.Binary;
using System.IO.Compression;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Formats.FormatAssert;

namespace Retrieval.Tests.Formats;

/// <summary>Each malformed dense/matrix input gets its own error naming the file, the row and/or byte offset.</summary>
public class DenseMalformedTests
{
    private readonly string _dir = TestData.TempDirectory();

    [Fact]
    public void FvecsWithAnIncompleteLastRowIsTruncated()
    {
        // Two 3-d rows (16 bytes each), then a third row cut after its prefix and one float.
        var path = Write(_dir, "t.fvecs", [.. FvecsRow(1, 2, 3), .. FvecsRow(4, 5, 6), .. Int32s(3), .. Floats(7)]);
        Fails(() => DenseVectorFile.Read(path), path, row: 2, byteOffset: 32, "truncated", "expected 16 bytes", "found 8");
        Fails(() => DenseVectorFile.ReadHeader(path), path, row: 2, byteOffset: 32, "truncated");
    }

    [Fact]
    public void FvecsEndingInsideTheNextRowsDimensionIsTruncated()
    {
        var path = Write(_dir, "t2.fvecs", [.. FvecsRow(1, 2), .. FvecsRow(3, 4), 2, 0]);
        Fails(() => DenseVectorFile.Read(path), path, row: 2, byteOffset: 24, "truncated", "found 2");
    }

    [Fact]
    public void NpyShapeFarBeyondTheFileIsTruncatedNotOverflowed()
    {
        var path = Write(_dir, "huge.npy", [.. NpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 8), }"), .. Floats(1, 2)]);
        Fails(() => DenseVectorFile.ReadHeader(path), path, row: 0, byteOffset: 128, "truncated", "9223372036854775807");
    }

    [Fact]
    public void FvecsRowWithAnotherDimensionIsADimensionMismatch()
    {
        // Row 1 claims 2 floats where row 0 had 3: the file length is still a whole number of 3-d rows.
        var path = Write(_dir, "d.fvecs", [.. FvecsRow(1, 2, 3), .. FvecsRow(4, 5), .. Floats(9), .. FvecsRow(7, 8, 9)]);
        Fails(() => DenseVectorFile.Read(path), path, row: 1, byteOffset: 16, "dimension mismatch", "declares dimension 2", "expected 3");
    }

    [Fact]
    public void FvecsDimensionMismatchThatBreaksTheLengthIsStillReportedAsAMismatch()
    {
        var path = Write(_dir, "d2.fvecs", [.. FvecsRow(1, 2, 3), .. FvecsRow(1, 2, 3), .. FvecsRow(4, 5, 6, 7)]);
        Fails(() => DenseVectorFile.Read(path), path, row: 2, byteOffset: 32, "dimension mismatch", "declares dimension 4", "expected 3");
    }

    [Fact]
    public void BvecsRowWithAnotherDimensionIsADimensionMismatch()
    {
        byte[] row0 = [.. Int32s(4), 1, 2, 3, 4];
        byte[] row1 = [.. Int32s(3), 1, 2, 3, 9];
        var path = Write(_dir, "d.bvecs", [.. row0, .. row0, .. row1]);
        Fails(() => DenseVectorFile.Read(path), path, row: 2, byteOffset: 16, "dimension mismatch", "declares dimension 3", "expected 4");
    }

    [Fact]
    public void FvecsWithAnImplausibleFirstDimensionIsRejected()
    {
        var path = Write(_dir, "garbage.fvecs", [.. Int32s(-5), .. Floats(1, 2)]);
        Fails(() => DenseVectorFile.Read(path), path, row: 0, byteOffset: 0, "dimension -5");
    }

    [Fact]
    public void FbinHeaderClaimingMoreRowsThanTheFileHoldsIsTruncated()
    {
        // Header says 4 x 2 floats (32 data bytes) but only 2.5 rows (20 bytes) follow.
        var path = Write(_dir, "t.fbin", [.. Int32s(4, 2), .. Floats(1, 2, 3, 4, 5)]);
        Fails(() => DenseVectorFile.Read(path), path, row: 2, byteOffset: 24, "truncated", "needs 32 data bytes", "holds 20");
    }

    [Fact]
    public void U8binWithBytesTheHeaderDoesNotAccountForIsAWrongHeader()
    {
        var path = Write(_dir, "x.u8bin", [.. Int32s(2, 3), 1, 2, 3, 4, 5, 6, 7, 8]);
        Fails(() => DenseVectorFile.Read(path), path, row: null, byteOffset: 14, "wrong header", "2 unexplained bytes");
    }

    [Fact]
    public void NpyDataShorterThanTheShapeIsTruncated()
    {
        var header = NpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }");
        var path = Write(_dir, "t.npy", [.. header, .. Floats(1, 2, 3)]);
        Fails(() => DenseVectorFile.Read(path), path, row: 1, byteOffset: 128 + 8, "truncated", "npy shape (3, 2)", "needs 24 data bytes", "holds 12");
    }

    [Fact]
    public void NpyWithAWrongMagicIsRejected()
    {
        var path = Write(_dir, "bad.npy", [.. "PK\u0003\u0004NUMPY-not-really"u8.ToArray()]);
        Fails(() => DenseVectorFile.Read(path), path, row: null, byteOffset: 0, "expected magic", "found 504B0304");
    }

    [Fact]
    public void NpyWithAMalformedHeaderDictIsRejected()
    {
        var path = Write(_dir, "dict.npy", [.. NpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (3 2), }"), .. Floats(1, 2, 3, 4, 5, 6)]);
        Fails(() => DenseVectorFile.Read(path), path, row: null, byteOffset: null, "not a valid dict literal", "expected ',' or ')'");
    }

    [Fact]
    public void NpyInFortranOrderIsIncompatible()
    {
        var path = Write(_dir, "f.npy", [.. NpyHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }"), .. Floats(1, 2, 3, 4)]);
        var ex = Fails(() => DenseVectorFile.Read(path), path, null, null, "Fortran", "ascontiguousarray");
        Assert.Equal(ErrorKind.Incompatible, ex.Kind);
    }

    [Fact]
    public void BigEndianNpyIsIncompatible()
    {
        var path = Write(_dir, "be.npy", [.. NpyHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }"), .. Floats(1, 2)]);
        var ex = Fails(() => DenseVectorFile.Read(path), path, null, null, "big-endian", "'<f4'");
        Assert.Equal(ErrorKind.Incompatible, ex.Kind);
    }

    [Fact]
    public void NpyOfAnUnsupportedDtypeIsIncompatible()
    {
        var path = Write(_dir, "c.npy", [.. NpyHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (1, 1), }"), .. Floats(1, 2)]);
        var ex = Fails(() => DenseVectorFile.Read(path), path, null, null, "'<c8'", "not supported");
        Assert.Equal(ErrorKind.Incompatible, ex.Kind);
    }

    [Fact]
    public void IntegerNpyIsNotADenseVectorFile()
    {
        var path = Write(_dir, "i.npy", [.. NpyHeader("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }"), .. Int32s(1, 2)]);
        var ex = Fails(() => DenseVectorFile.Read(path), path, null, null, "int32", "IntMatrixFile");
        Assert.Equal(ErrorKind.Incompatible, ex.Kind);
    }

    [Fact]
    public void IdxWithAWrongMagicIsRejected()
    {
        var path = Write(_dir, "bad-idx3-ubyte", [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0]);
        Fails(() => DenseVectorFile.Read(path), path, null, byteOffset: 0, "wrong IDX magic", "0x00000803", "found 0x1F8B0800");
    }

    [Fact]
    public void IdxOfFloatsIsIncompatible()
    {
        var head = new byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(head, 0x00000D02);
        BinaryPrimitives.WriteUInt32BigEndian(head.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32BigEndian(head.AsSpan(8), 1);
        var path = Write(_dir, "f-idx2-ubyte", [.. head, 0, 0, 0, 0]);
        var ex = Fails(() => DenseVectorFile.Read(path), path, null, byteOffset: 2, "0x0D", "float32");
        Assert.Equal(ErrorKind.Incompatible, ex.Kind);
    }

    [Fact]
    public void GzippedIdxEndingEarlyIsTruncated()
    {
        // Header: 3 images of 2x2 = 12 bytes, but only 9 bytes of pixels.
        var raw = new byte[16 + 9];
        BinaryPrimitives.WriteUInt32BigEndian(raw, 0x00000803);
        BinaryPrimitives.WriteUInt32BigEndian(raw.AsSpan(4), 3);
        BinaryPrimitives.WriteUInt32BigEndian(raw.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt32BigEndian(raw.AsSpan(12), 2);
        var path = Path.Combine(_dir, "t-idx3-ubyte.gz");
        using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest)) gz.Write(raw);
        Assert.Equal(3, DenseVectorFile.ReadHeader(path).Count);
        Fails(() => DenseVectorFile.Read(path), path, row: 2, byteOffset: 16 + 8 + 1, "truncated (decompressed)", "row 2 (1 of 4 bytes present)");
    }

    [Fact]
    public void NaNInFloat32DataNamesTheRowAndColumn()
    {
        var path = Write(_dir, "nan.fvecs", [.. FvecsRow(1, 2, 3), .. FvecsRow(4, 5, 6), .. FvecsRow(7, float.NaN, 9)]);
        // Row 2 starts at byte 32; its prefix is 4 bytes; column 1 is 4 bytes further.
        var ex = Fails(() => DenseVectorFile.Read(path), path, row: 2, byteOffset: 32 + 4 + 4, "column 1", "NaN");
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
    }

    [Fact]
    public void InfinityInFloat16NpyNamesTheRowAndColumn()
    {
        var values = new Half[] { (Half)1, (Half)2, (Half)3, (Half)4, (Half)5, Half.NegativeInfinity };
        var data = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(2 * i), values[i]);
        var path = Write(_dir, "inf.npy", [.. NpyHeader("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }"), .. data]);
        Fails(() => DenseVectorFile.Read(path), path, row: 1, byteOffset: 128 + 6 + 4, "column 2", "-Infinity", "float16");
    }

    [Fact]
    public void NonFiniteFoundByTheStreamingReaderNamesTheFileRow()
    {
        var floats = new float[40 * 2];
        floats[33 * 2 + 1] = float.PositiveInfinity;
        var path = Write(_dir, "s.fbin", [.. Int32s(40, 2), .. Floats(floats)]);
        using var reader = DenseVectorFile.OpenReader(path, chunkRows: 10);
        for (int i = 0; i < 3; i++) Assert.NotNull(reader.ReadChunk());
        Fails(() => reader.ReadChunk(), path, row: 33, byteOffset: 8 + 33 * 8 + 4, "column 1", "+Infinity");
    }

    [Theory]
    [InlineData("e.fvecs")]
    [InlineData("e.fbin")]
    [InlineData("e.npy")]
    [InlineData("e-idx3-ubyte")]
    public void EmptyFileIsRejected(string name)
    {
        var path = Write(_dir, name, []);
        Fails(() => DenseVectorFile.Read(path), path, null, byteOffset: 0, "file is empty");
    }

    [Fact]
    public void EmptyGzippedIdxIsRejected()
    {
        var path = Path.Combine(_dir, "e-idx3-ubyte.gz");
        using (new GZipStream(File.Create(path), CompressionLevel.Fastest)) { }
        Fails(() => DenseVectorFile.Read(path), path, null, byteOffset: 0, "empty");
    }

    [Fact]
    public void MissingFileIsNotFoundNamingThePath()
    {
        var path = Path.Combine(_dir, "nope.fvecs");
        var ex = Assert.Throws<RetrievalException>(() => DenseVectorFile.Read(path));
        Assert.Equal(ErrorKind.NotFound, ex.Kind);
        Assert.Contains(path, ex.Message);
        Assert.Equal(ErrorKind.NotFound, Assert.Throws<RetrievalException>(() => IntMatrixFile.Read(Path.Combine(_dir, "nope.ivecs"))).Kind);
        Assert.Equal(ErrorKind.NotFound, Assert.Throws<RetrievalException>(() => SparseCsrFile.Read(Path.Combine(_dir, "nope.csr"))).Kind);
    }

    [Fact]
    public void UnknownExtensionIsInvalidInput()
    {
        var path = Write(_dir, "v.txt", [1, 2, 3]);
        var ex = Assert.Throws<RetrievalException>(() => DenseVectorFile.Read(path));
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains(".fvecs", ex.Message);
    }
}
