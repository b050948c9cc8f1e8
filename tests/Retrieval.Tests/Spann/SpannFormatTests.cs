using Retrieval.Index.Errors;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

public class SpannFormatTests
{
    private static string BuildSmall(SpannStorage storage = SpannStorage.Float32)
    {
        var dir = Path.Combine(TestData.TempDirectory(), "idx");
        SpannBuilder.Build(SpannTestData.RandomFloat(5, 400, 16), dir, new SpannBuildOptions { Metric = Metric.L2, HeadRatio = 0.1, Storage = storage });
        return dir;
    }

    [Theory]
    [InlineData(SpannFormat.PostingsFile)]
    [InlineData(SpannFormat.HeadsFile)]
    [InlineData(SpannFormat.GraphFile)]
    [InlineData(SpannFormat.DirectoryFile)]
    [InlineData(SpannFormat.FullVectorsFile)]
    public void TruncatedFileIsRejectedNamingIt(string name)
    {
        var dir = BuildSmall(SpannStorage.Int8);
        var path = Path.Combine(dir, name);
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(f.Length - 100);
        var e = Assert.ThrowsAny<RetrievalException>(() => SpannIndex.Open(dir));
        Assert.Contains(name, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData(SpannFormat.PostingsFile, 5000)]
    [InlineData(SpannFormat.HeadsFile, 100)]
    [InlineData(SpannFormat.GraphFile, 60)]
    [InlineData(SpannFormat.DirectoryFile, 50)]
    [InlineData(SpannFormat.PostingsFile, 3)]
    [InlineData(SpannFormat.FullVectorsFile, 9000)]
    public void FlippedByteIsDetected(string name, int offset)
    {
        var dir = BuildSmall(SpannStorage.Int8);
        var path = Path.Combine(dir, name);
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var e = Assert.ThrowsAny<RetrievalException>(() => SpannIndex.Open(dir));
        Assert.True(e.Kind is ErrorKind.Corrupt or ErrorKind.Incompatible, e.Message);
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void OtherFormatVersionIsIncompatible()
    {
        var dir = BuildSmall();
        var manifest = Path.Combine(dir, SpannFormat.ManifestFile);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace($"\"version\": {SpannFormat.CurrentVersion}", "\"version\": 99"));
        var e = Assert.Throws<DataFormatException>(() => SpannIndex.Open(dir));
        Assert.Equal(ErrorKind.Incompatible, e.Kind);
        Assert.Contains("version 99", e.Message);
    }

    [Fact]
    public void MissingManifestMeansNoIndex()
    {
        var dir = BuildSmall();
        File.Delete(Path.Combine(dir, SpannFormat.ManifestFile));
        var e = Assert.Throws<RetrievalException>(() => SpannIndex.Open(dir));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public void OpensThroughTheIndexRegistry()
    {
        var dir = BuildSmall();
        using var index = Retrieval.Query.Indexes.IndexRegistry.Default.Open(dir);
        Assert.Equal("spann", index.Kind);
        Assert.Equal(400, index.Count);
        Assert.Equal(16, index.Dimension);
    }
}
