using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Formats;

public class DenseStreamingTests
{
    [Theory]
    [InlineData("s.fvecs", 7)]
    [InlineData("s.fbin", 10)]
    [InlineData("s.npy", 1)]
    [InlineData("s.npy", 250)]
    public void ChunksReassembleTheWholeFile(string name, int chunkRows)
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, name);
        var floats = new float[103 * 6];
        for (int i = 0; i < floats.Length; i++) floats[i] = i * 0.25f;
        var vectors = DenseVectors.FromFloat32(floats, 103, 6);
        DenseVectorFile.Write(path, vectors);

        using var reader = DenseVectorFile.OpenReader(path, chunkRows);
        Assert.Equal(103, reader.Info.Count);
        var collected = new List<byte>();
        long expectedFirst = 0;
        while (reader.ReadChunk() is { } chunk)
        {
            Assert.True(chunk.Count <= chunkRows);
            Assert.Equal(expectedFirst + chunk.Count, reader.RowsRead);
            expectedFirst = reader.RowsRead;
            collected.AddRange(chunk.RawData.ToArray());
        }
        Assert.Equal(0, reader.RowsRemaining);
        Assert.Equal(vectors.RawData.ToArray(), collected.ToArray());
        Assert.Null(reader.ReadChunk());
    }

    [Fact]
    public void ReadRowsFillsACallerBufferWithoutAllocatingChunks()
    {
        var path = TestData.Fixture("formats", "tiny-images-idx3-ubyte.gz");
        using var reader = DenseVectorFile.OpenReader(path);
        var buffer = new byte[3 * 6 + 5]; // room for 3 rows and change
        Assert.Equal(3, reader.ReadRows(buffer));
        Assert.Equal(20, buffer[2 * 6]);
        Assert.Equal(1, reader.ReadRows(buffer));
        Assert.Equal(30, buffer[0]);
        Assert.Equal(0, reader.ReadRows(buffer));
    }

    [Fact]
    public void MaxRowsLimitsTheStream()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "m.u8bin");
        DenseVectorFile.Write(path, new DenseVectors(ElementType.UInt8, 50, 4, new byte[200]));
        using var reader = DenseVectorFile.OpenReader(path, 8, new DenseReadOptions { MaxRows = 20 });
        int rows = 0;
        while (reader.ReadChunk() is { } chunk) rows += chunk.Count;
        Assert.Equal(20, rows);
    }
}
