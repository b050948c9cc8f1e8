using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Formats.FormatAssert;

namespace Retrieval.Tests.Formats;

public class MatrixFileTests
{
    private readonly string _dir = TestData.TempDirectory();

    private static IntMatrix Ids(int rows, int columns)
    {
        var m = new IntMatrix(rows, columns);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = i * 7919 % 100_003 - 5;
        return m;
    }

    [Theory]
    [InlineData("gt.ivecs")]
    [InlineData("gt.ibin")]
    [InlineData("gt.npy")]
    public void IntMatrixRoundTrips(string name)
    {
        var path = Path.Combine(_dir, name);
        var ids = Ids(11, 9);
        IntMatrixFile.Write(path, ids);
        var back = IntMatrixFile.Read(path);
        Assert.Equal((11, 9), (back.Rows, back.Columns));
        Assert.Equal(ids.Data, back.Data);
        Assert.Equal(ids.Row(4).ToArray(), back.Row(4).ToArray());
        Assert.Equal(3, IntMatrixFile.Read(path, maxRows: 3).Rows);
    }

    [Theory]
    [InlineData("s.fvecs")]
    [InlineData("s.fbin")]
    [InlineData("s.npy")]
    public void FloatMatrixRoundTrips(string name)
    {
        var path = Path.Combine(_dir, name);
        var scores = new FloatMatrix(5, 3);
        for (int i = 0; i < scores.Data.Length; i++) scores.Data[i] = 1f / (i + 1);
        FloatMatrixFile.Write(path, scores);
        var back = FloatMatrixFile.Read(path);
        Assert.Equal((5, 3), (back.Rows, back.Columns));
        Assert.Equal(scores.Data, back.Data);
    }

    [Fact]
    public void PaddedNaNScoresReadBackOnlyWhenAllowed()
    {
        var path = Path.Combine(_dir, "pad.fbin");
        FloatMatrixFile.Write(path, new FloatMatrix(2, 2, [1f, float.NaN, 2f, 3f]));
        Fails(() => FloatMatrixFile.Read(path), path, row: 0, byteOffset: 8 + 4, "column 1", "NaN");
        Assert.True(float.IsNaN(FloatMatrixFile.Read(path, new DenseReadOptions { AllowNonFinite = true }).Data[1]));
    }

    [Fact]
    public void Int64NpyNarrowsToInt32()
    {
        var path = Write(_dir, "i8.npy", [.. NpyHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }"), .. Int64s(1, -2, 3, int.MaxValue)]);
        var m = IntMatrixFile.Read(path);
        Assert.Equal(new[] { 1, -2, 3, int.MaxValue }, m.Data);
    }

    [Fact]
    public void Int64NpyValueOutsideInt32IsAnError()
    {
        var path = Write(_dir, "big.npy", [.. NpyHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }"), .. Int64s(1, 2, 3, 1L << 40)]);
        Fails(() => IntMatrixFile.Read(path), path, row: 1, byteOffset: 128 + 16 + 8, "1099511627776", "column 1", "does not fit in int32");
    }

    [Fact]
    public void Float64NpyNarrowsToFloat32AndOneDimensionalIsAColumn()
    {
        byte[] doubles = new byte[3 * 8];
        for (int i = 0; i < 3; i++) System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(doubles.AsSpan(8 * i), 0.5 * (i + 1));
        var path = Write(_dir, "kth.npy", [.. NpyHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"), .. doubles]);
        var m = FloatMatrixFile.Read(path);
        Assert.Equal((3, 1), (m.Rows, m.Columns));
        Assert.Equal(new[] { 0.5f, 1f, 1.5f }, m.Data);
    }

    [Fact]
    public void IvecsDimensionMismatchIsReported()
    {
        var path = Write(_dir, "gt.ivecs", [.. Int32s(2, 10, 11), .. Int32s(2, 12, 13), .. Int32s(1, 14, 15)]);
        Fails(() => IntMatrixFile.Read(path), path, row: 2, byteOffset: 24, "dimension mismatch", "declares dimension 1", "expected 2");
    }

    [Fact]
    public void FloatFileIsNotAnIntMatrix()
    {
        var path = Path.Combine(_dir, "f.fvecs");
        FloatMatrixFile.Write(path, new FloatMatrix(1, 1, [1f]));
        var ex = Fails(() => IntMatrixFile.Read(path), path, null, null, "float32", "integer matrix");
        Assert.Equal(ErrorKind.Incompatible, ex.Kind);
        Assert.Throws<RetrievalException>(() => IntMatrixFile.Write(Path.Combine(_dir, "x.fvecs"), new IntMatrix(1, 1)));
    }
}
