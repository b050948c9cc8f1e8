using Retrieval.Bench.Datasets;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

public class ManifestTests
{
    private static string Folder(string manifestJson, params string[] files)
    {
        var dir = TestData.TempDirectory();
        File.WriteAllText(Path.Combine(dir, "manifest.json"), manifestJson);
        foreach (var file in files)
        {
            var path = Path.Combine(dir, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, [1, 2, 3]);
        }
        return dir;
    }

    private const string Dense = """
        {
          "name": "toy", "kind": "dense", "metric": "l2", "dims": 4,
          "base": {"file": "base.npy", "format": "npy", "dtype": "float32", "count": 10, "texts": "rows of something"},
          "queries": {"file": "sub/queries.npy", "format": "npy", "dtype": "float32", "count": 2},
          "groundtruth": {"file": "gt.ivecs", "format": "ivecs", "k": 5},
          "model": "made up", // comments are tolerated
          "source": "tests", "licence": "MIT",
        }
        """;

    [Fact]
    public void ReadsTheSharedLayoutAndKeepsUnknownFields()
    {
        var dir = Folder(Dense, "base.npy", "sub/queries.npy", "gt.ivecs");
        var m = DatasetManifest.Load(dir);
        Assert.Equal("toy", m.Name);
        Assert.Equal(DatasetKind.Dense, m.Kind);
        Assert.Equal(Metric.L2, m.Metric);
        Assert.Equal(4, m.Dims);
        Assert.Equal(Path.Combine(dir, "base.npy"), m.Base!.Path);
        Assert.Equal(Path.Combine(dir, "sub", "queries.npy"), m.Queries!.Path);
        Assert.Equal(10, m.Base.Count);
        Assert.Equal("float32", m.Base.DType);
        Assert.Equal(5, m.GroundTruth!.K);
        Assert.Equal("rows of something", m.Base.ExtraString("texts"));
        Assert.Equal("made up", m.ExtraString("model"));
        Assert.Equal(3, m.Files().Count);
        Assert.Empty(m.MissingFiles());
    }

    [Fact]
    public void LoadAcceptsTheManifestPathItself()
    {
        var dir = Folder(Dense, "base.npy", "sub/queries.npy", "gt.ivecs");
        var m = DatasetManifest.Load(Path.Combine(dir, "manifest.json"));
        Assert.Equal(dir, m.Directory);
    }

    [Fact]
    public void AbsolutePathsAreKeptAsWritten()
    {
        var elsewhere = TestData.TempDirectory();
        var absolute = Path.Combine(elsewhere, "images.gz");
        File.WriteAllBytes(absolute, [0]);
        var json = Dense.Replace("\"base.npy\"", $"\"{absolute}\"");
        var dir = Folder(json, "sub/queries.npy", "gt.ivecs");
        Assert.Equal(absolute, DatasetManifest.Load(dir).Base!.Path);
    }

    [Fact]
    public void MissingFilesAreNamedWithTheirFieldAndInstallHint()
    {
        var json = Dense.Replace("\"count\": 10,", "\"count\": 10, \"install\": \"apt-get install -y toy-data\",");
        var dir = Folder(json, "sub/queries.npy");
        var e = Assert.Throws<RetrievalException>(() => DatasetManifest.Load(dir));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("base: " + Path.Combine(dir, "base.npy"), e.Message);
        Assert.Contains("groundtruth: " + Path.Combine(dir, "gt.ivecs"), e.Message);
        Assert.Contains("apt-get install -y toy-data", e.Message);
        Assert.DoesNotContain("queries:", e.Message);

        // Without requireFiles the description still loads and reports what is missing.
        var m = DatasetManifest.Load(dir, requireFiles: false);
        Assert.Equal(["base", "groundtruth"], m.MissingFiles().Select(f => f.Field).ToArray());
    }

    [Fact]
    public void AFolderWithoutManifestIsNotFound()
    {
        var dir = TestData.TempDirectory();
        var e = Assert.Throws<RetrievalException>(() => DatasetManifest.Load(dir));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("manifest.json", e.Message);
        Assert.Contains(dir, e.Message);
        var gone = Assert.Throws<RetrievalException>(() => DatasetManifest.Load(Path.Combine(dir, "nope")));
        Assert.Equal(ErrorKind.NotFound, gone.Kind);
    }

    [Theory]
    [InlineData("{\"name\": \"x\", \"kind\": ", "not valid JSON")]
    [InlineData("[1, 2]", "must be a JSON object")]
    [InlineData("{\"kind\": \"dense\"}", "'name' missing")]
    [InlineData("{\"name\": \"x\"}", "'kind' missing")]
    [InlineData("{\"name\": \"x\", \"kind\": \"vectors\"}", "unknown kind 'vectors'")]
    [InlineData("{\"name\": \"x\", \"kind\": \"dense\", \"metric\": \"hamming\", \"dims\": 4, \"base\": \"b\", \"queries\": \"q\"}", "'metric'")]
    [InlineData("{\"name\": \"x\", \"kind\": \"dense\", \"metric\": \"l2\", \"base\": \"b\", \"queries\": \"q\"}", "'dims' missing")]
    [InlineData("{\"name\": \"x\", \"kind\": \"dense\", \"metric\": \"l2\", \"dims\": \"four\", \"base\": \"b\", \"queries\": \"q\"}", "'dims' expected an integer")]
    [InlineData("{\"name\": \"x\", \"kind\": \"dense\", \"metric\": \"l2\", \"dims\": 0, \"base\": \"b\", \"queries\": \"q\"}", "'dims' must be >= 1")]
    [InlineData("{\"name\": \"x\", \"kind\": \"dense\", \"metric\": \"l2\", \"dims\": 4, \"queries\": \"q\"}", "'base' missing")]
    [InlineData("{\"name\": \"x\", \"kind\": \"dense\", \"metric\": \"l2\", \"dims\": 4, \"base\": {\"format\": \"npy\"}, \"queries\": \"q\"}", "'base.file' missing")]
    [InlineData("{\"name\": \"x\", \"kind\": \"dense\", \"metric\": \"l2\", \"dims\": 4, \"base\": {\"file\": \"b\", \"count\": -1}, \"queries\": \"q\"}", "'base.count' expected a non-negative integer")]
    [InlineData("{\"name\": \"x\", \"kind\": \"dense\", \"metric\": \"l2\", \"dims\": 4, \"base\": \"b\", \"queries\": \"q\", \"groundtruth\": {\"file\": \"g\", \"k\": 0}}", "'groundtruth.k' must be >= 1")]
    [InlineData("{\"name\": \"x\", \"kind\": \"beir\", \"corpus\": \"c\", \"queries\": \"q\"}", "'qrels' missing")]
    [InlineData("{\"name\": \"x\", \"kind\": \"sparse\"}", "sets[] list")]
    [InlineData("{\"name\": \"x\", \"kind\": \"sparse\", \"sets\": [\"a\"]}", "'sets[0]' expected a file spec object")]
    [InlineData("{\"name\": \"x\", \"kind\": \"kv\", \"heads\": []}", "'heads' missing")]
    [InlineData("{\"name\": \"x\", \"kind\": \"kv\", \"heads\": [{\"name\": \"h\", \"q\": \"q.npy\", \"k\": \"k.npy\"}]}", "'heads[0].v' missing")]
    [InlineData("{\"name\": \"x\", \"kind\": \"kv\", \"heads\": [{\"q\": \"q\", \"k\": \"k\", \"v\": \"v\"}], \"base_rows\": [5, 2]}", "'base_rows' expected [start, end]")]
    public void MalformedManifestsGetAClearError(string json, string expected)
    {
        var dir = Folder(json);
        var e = Assert.ThrowsAny<RetrievalException>(() => DatasetManifest.Load(dir, requireFiles: false));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains(expected, e.Message);
        Assert.Contains(Path.Combine(dir, "manifest.json"), e.Message);
    }
}
