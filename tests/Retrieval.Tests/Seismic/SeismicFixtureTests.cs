using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

/// <summary>
/// A tiny index of the current format version is committed under datasets/fixtures/seismic/v3; the reader must open
/// it and answer as exact search does (Tantivy's habit). Regenerate only on a format change, with
/// SEISMIC_WRITE_FIXTURE=1, into a new version folder, and keep the old versions' folders: the version-1 and
/// version-2 fixtures stay to prove an index of an unreadable version is refused with a format-version error rather
/// than misread.
/// </summary>
public class SeismicFixtureTests
{
    private static SparseMatrix FixtureDocuments() => SeismicTestData.Collection(41, rows: 60, vocabulary: 40, maxNnz: 8);
    private static SparseMatrix FixtureQueries() => SeismicTestData.Collection(42, rows: 8, vocabulary: 40, maxNnz: 4);
    private static readonly SeismicBuildOptions FixtureOptions = SeismicBuildOptions.Default with
    {
        Pruning = PostingPruning.None,
        Values = ForwardValueStorage.Float32,
        CentroidFraction = 0.2,
    };

    [Fact]
    public void CurrentVersionFixtureOpensAndMatchesExact()
    {
        Assert.Equal(3u, SeismicIndexFormat.CurrentVersion);
        var dir = TestData.Fixture("seismic", "v3");
        if (Environment.GetEnvironmentVariable("SEISMIC_WRITE_FIXTURE") == "1")
            SeismicIndex.Build(FixtureDocuments(), FixtureOptions, Enumerable.Range(0, 60).Select(i => "doc" + i).ToArray()).Save(dir);
        var index = SeismicIndex.Open(dir);
        Assert.Equal(60, index.Count);
        Assert.Equal(40, index.VocabularySize);
        Assert.Equal("doc59", index.DocumentIds![59]);
        Assert.Equal(FixtureOptions with { Threads = 0 }, index.Options);
        Assert.True(index.Postings.BlockCount > 40, "lists are split into blocks");
        Assert.Equal(ForwardRowOrder.BlockLocality, index.Options.RowOrder);
        Assert.NotEqual(Enumerable.Range(0, 60), index.RowDocuments);
        var exact = new ExactSparseIndex(FixtureDocuments()).Search(FixtureQueries(), 5, threads: 1);
        SeismicExactnessTests.AssertSameTopK(exact, index.Search(FixtureQueries(), 5, SeismicSearchParameters.Exhaustive, threads: 1));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void OlderVersionFixtureIsRefusedWithAFormatVersionError(int version)
    {
        var dir = TestData.Fixture("seismic", "v" + version);
        var error = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Equal(ErrorKind.Incompatible, error.Kind);
        Assert.Contains($"format_version {version}", error.Message);
        Assert.Contains("rebuild", error.Message);
        Assert.Contains("manifest.json", error.Message);
    }

    [Fact]
    public void Version1SummariesFileIsRefusedEvenUnderACurrentManifest()
    {
        // A v1 binary file smuggled into a current directory (manifest patched to match) still fails on its header version.
        var dir = TestData.TempDirectory();
        foreach (var f in Directory.GetFiles(TestData.Fixture("seismic", "v3"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var v1 = Path.Combine(TestData.Fixture("seismic", "v1"), SeismicIndexFormat.SummariesFile);
        File.Copy(v1, Path.Combine(dir, SeismicIndexFormat.SummariesFile), overwrite: true);
        var manifestPath = Path.Combine(dir, SeismicIndexFormat.ManifestFile);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifestPath))!;
        var v1Manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TestData.Fixture("seismic", "v1"), SeismicIndexFormat.ManifestFile)))!;
        var oldEntry = v1Manifest["files"]!.AsArray().First(e => e!["name"]!.GetValue<string>() == SeismicIndexFormat.SummariesFile)!;
        var entry = manifest["files"]!.AsArray().First(e => e!["name"]!.GetValue<string>() == SeismicIndexFormat.SummariesFile)!;
        entry["bytes"] = oldEntry["bytes"]!.GetValue<long>();
        entry["crc32c"] = oldEntry["crc32c"]!.GetValue<string>();
        File.WriteAllText(manifestPath, manifest.ToJsonString());
        var error = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains("format version 1", error.Message);
        Assert.Contains(SeismicIndexFormat.SummariesFile, error.Message);
    }
}
