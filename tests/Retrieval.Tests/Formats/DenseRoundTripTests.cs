using System.IO.Compression;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Formats;

public class DenseRoundTripTests
{
    private static DenseVectors RandomVectors(ElementType type, int count, int dimension, int seed)
    {
        var rng = new Random(seed);
        var data = new byte[count * dimension * type.SizeInBytes()];
        switch (type)
        {
            case ElementType.Float32:
                {
                    var f = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.AsSpan());
                    for (int i = 0; i < f.Length; i++) f[i] = (float)(rng.NextDouble() * 2 - 1);
                    break;
                }
            case ElementType.Float16:
                {
                    var h = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(data.AsSpan());
                    for (int i = 0; i < h.Length; i++) h[i] = (Half)(rng.NextDouble() * 2 - 1);
                    break;
                }
            default:
                rng.NextBytes(data);
                break;
        }
        return new DenseVectors(type, count, dimension, data);
    }

    [Theory]
    [InlineData("v.fvecs", ElementType.Float32, MatrixFileFormat.Fvecs)]
    [InlineData("v.bvecs", ElementType.UInt8, MatrixFileFormat.Bvecs)]
    [InlineData("v.fbin", ElementType.Float32, MatrixFileFormat.Fbin)]
    [InlineData("v.u8bin", ElementType.UInt8, MatrixFileFormat.U8bin)]
    [InlineData("v.i8bin", ElementType.Int8, MatrixFileFormat.I8bin)]
    [InlineData("v.npy", ElementType.Float32, MatrixFileFormat.Npy)]
    [InlineData("v.npy", ElementType.Float16, MatrixFileFormat.Npy)]
    [InlineData("v.npy", ElementType.UInt8, MatrixFileFormat.Npy)]
    [InlineData("v.npy", ElementType.Int8, MatrixFileFormat.Npy)]
    public void WriteThenReadGivesTheSameVectors(string name, ElementType type, MatrixFileFormat format)
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, name);
        var vectors = RandomVectors(type, 37, 13, seed: 7);
        DenseVectorFile.Write(path, vectors);

        var info = DenseVectorFile.ReadHeader(path);
        Assert.Equal(format, info.Format);
        Assert.Equal(type, info.ElementType);
        Assert.Equal(37, info.Count);
        Assert.Equal(13, info.Dimension);

        var back = DenseVectorFile.Read(path);
        Assert.Equal(type, back.ElementType);
        Assert.Equal(37, back.Count);
        Assert.Equal(13, back.Dimension);
        Assert.True(vectors.RawData.SequenceEqual(back.RawData));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp-*"));
    }

    [Fact]
    public void MaxRowsReadsAPrefix()
    {
        var dir = TestData.TempDirectory();
        var vectors = RandomVectors(ElementType.Float32, 20, 5, seed: 3);
        foreach (var name in new[] { "p.fvecs", "p.fbin", "p.npy" })
        {
            var path = Path.Combine(dir, name);
            DenseVectorFile.Write(path, vectors);
            var head = DenseVectorFile.Read(path, new DenseReadOptions { MaxRows = 6 });
            Assert.Equal(6, head.Count);
            Assert.True(vectors.Slice(0, 6).RawData.SequenceEqual(head.RawData));
        }
    }

    [Fact]
    public void WriteReplacesAnExistingFileAtomically()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "r.fbin");
        DenseVectorFile.Write(path, RandomVectors(ElementType.Float32, 50, 4, 1));
        var second = RandomVectors(ElementType.Float32, 3, 4, 2);
        DenseVectorFile.Write(path, second);
        Assert.True(second.RawData.SequenceEqual(DenseVectorFile.Read(path).RawData));
        Assert.Single(Directory.GetFiles(dir));
    }

    [Fact]
    public void WritingAnElementTypeTheFormatCannotHoldIsRejected()
    {
        var dir = TestData.TempDirectory();
        var halfs = RandomVectors(ElementType.Float16, 2, 3, 1);
        var ex = Assert.Throws<RetrievalException>(() => DenseVectorFile.Write(Path.Combine(dir, "x.fvecs"), halfs));
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains("float16", ex.Message);
        Assert.Throws<RetrievalException>(() => DenseVectorFile.Write(Path.Combine(dir, "x.ivecs"), halfs));
        Assert.Throws<RetrievalException>(() => DenseVectorFile.Write(Path.Combine(dir, "x.txt"), halfs));
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void NumpyWrittenFloat16FixtureReads()
    {
        var path = TestData.Fixture("formats", "tiny-f16.npy");
        var info = DenseVectorFile.ReadHeader(path);
        Assert.Equal((MatrixFileFormat.Npy, ElementType.Float16, 3L, 4, 128L), (info.Format, info.ElementType, info.Count, info.Dimension, info.DataOffset));
        var v = DenseVectorFile.Read(path);
        var row = new float[4];
        v.CopyRowTo(2, row);
        Assert.Equal(new[] { 3.0f, 3.5f, 4.0f, 4.5f }, row);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void NpyVersion2And3HeadersRead(int major)
    {
        var dir = TestData.TempDirectory();
        var header = FormatAssert.NpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", major);
        var path = FormatAssert.Write(dir, "v.npy", [.. header, .. FormatAssert.Floats(1, 2, 3, 4, 5, 6)]);
        var v = DenseVectorFile.Read(path);
        Assert.Equal((2, 3), (v.Count, v.Dimension));
        Assert.Equal(6f, v.Float32Row(1)[2]);
    }

    [Fact]
    public void NpyOneDimensionalArrayIsOneColumn()
    {
        var dir = TestData.TempDirectory();
        var header = FormatAssert.NpyHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }");
        var path = FormatAssert.Write(dir, "v.npy", [.. header, .. FormatAssert.Floats(1, 2, 3, 4)]);
        var v = DenseVectorFile.Read(path);
        Assert.Equal((4, 1), (v.Count, v.Dimension));
    }

    [Fact]
    public void IdxGzipFixtureReadsWithItsShape()
    {
        var path = TestData.Fixture("formats", "tiny-images-idx3-ubyte.gz");
        var info = DenseVectorFile.ReadHeader(path);
        Assert.Equal((MatrixFileFormat.Idx, ElementType.UInt8, 4L, 6, true), (info.Format, info.ElementType, info.Count, info.Dimension, info.Compressed));
        var v = DenseVectorFile.Read(path);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 6; j++) Assert.Equal(10 * i + j, v.UInt8Row(i)[j]);
    }

    [Fact]
    public void UncompressedIdxReads()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "x-idx3-ubyte");
        using (var gz = new GZipStream(File.OpenRead(TestData.Fixture("formats", "tiny-images-idx3-ubyte.gz")), CompressionMode.Decompress))
        using (var output = File.Create(path)) gz.CopyTo(output);
        var v = DenseVectorFile.Read(path);
        Assert.Equal((4, 6), (v.Count, v.Dimension));
        Assert.Equal(35, v.UInt8Row(3)[5]);
    }

    [Fact]
    public void NonFiniteValuesAreAcceptedWhenAllowed()
    {
        var dir = TestData.TempDirectory();
        var path = FormatAssert.Write(dir, "n.fvecs", [.. FormatAssert.FvecsRow(1, float.NaN), .. FormatAssert.FvecsRow(float.PositiveInfinity, 2)]);
        var v = DenseVectorFile.Read(path, new DenseReadOptions { AllowNonFinite = true });
        Assert.True(float.IsNaN(v.Float32Row(0)[1]));
    }
}
