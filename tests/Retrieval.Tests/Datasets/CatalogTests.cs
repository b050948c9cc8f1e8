using Retrieval.Bench.Datasets;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

public class CatalogTests
{
    private static readonly string[] Expected =
    [
        "bigann10k", "cranfield", "fashion-mnist", "kv-minilm", "lexical-passages", "minilm-2m", "minilm-passages", "passages",
        "scifact", "seismic-toy", "splade-queries", "tiny-dense",
    ];

    [Fact]
    public void TheCatalogNamesEverySetWithSourceLicenceAndRecipe()
    {
        Assert.Equal(Expected, DatasetCatalog.Names().ToArray());
        foreach (var entry in DatasetCatalog.Entries)
        {
            Assert.False(string.IsNullOrWhiteSpace(entry.Description), entry.Name);
            Assert.False(string.IsNullOrWhiteSpace(entry.Source), entry.Name);
            Assert.False(string.IsNullOrWhiteSpace(entry.Licence), entry.Name);
            Assert.Contains(entry.RecipeMethod, DatasetRecipes.Methods);
            Assert.NotEmpty(entry.RecipeSteps);
            Assert.False(string.IsNullOrWhiteSpace(entry.Reproducibility), entry.Name);
        }
        Assert.Equal("passages", DatasetCatalog.AliasOf("lexical-passages"));
        Assert.Null(DatasetCatalog.AliasOf("passages"));
    }

    [Fact]
    public void TheCatalogFilesInTheRepositoryAreTheEmbeddedOnes()
    {
        var folder = Path.Combine(TestData.RepoRoot, "datasets", "catalog");
        var files = Directory.GetFiles(folder, "*.json").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(Expected, files);
        foreach (var entry in DatasetCatalog.Entries)
            Assert.Equal(File.ReadAllText(Path.Combine(folder, entry.Name + ".json")), entry.Json);
    }

    [Fact]
    public void CountsAndShapesComeFromTheCatalogManifests()
    {
        var minilm = DatasetCatalog.Get("minilm-passages");
        Assert.Equal(160000, minilm.BaseCount);
        Assert.Equal(10000, minilm.QueryCount);
        Assert.Equal(384, minilm.Dims);
        Assert.Equal(6980, DatasetCatalog.Get("splade-queries").QueryCount);
        Assert.Null(DatasetCatalog.Get("splade-queries").BaseCount);
        Assert.Equal(5183, DatasetCatalog.Get("scifact").BaseCount);
        Assert.Equal(1000, DatasetCatalog.Get("kv-minilm").QueryCount);
        Assert.Throws<Retrieval.Index.Errors.RetrievalException>(() => DatasetCatalog.Get("nope"));
    }

    [Fact]
    public void ListSaysWhatIsAvailableAndWhere()
    {
        var root = TestData.TempDirectory();
        // A complete set, a set with a missing file, and a folder the catalog does not know.
        var big = Path.Combine(root, "bigann10k");
        Directory.CreateDirectory(big);
        File.WriteAllText(Path.Combine(big, "manifest.json"), DatasetCatalog.Get("bigann10k").Json);
        foreach (var f in new[] { "base.u8.npy", "queries.u8.npy", "groundtruth.i32.npy" }) File.WriteAllBytes(Path.Combine(big, f), [0]);
        var scifact = Path.Combine(root, "scifact");
        Directory.CreateDirectory(scifact);
        File.WriteAllText(Path.Combine(scifact, "manifest.json"), DatasetCatalog.Get("scifact").Json);
        var mine = Path.Combine(root, "my-set");
        Directory.CreateDirectory(mine);
        File.WriteAllText(Path.Combine(mine, "p.tsv"), "");
        File.WriteAllText(Path.Combine(mine, "manifest.json"), """{"name": "my-set", "kind": "sparse-text", "base": "p.tsv", "queries": "p.tsv"}""");

        var listing = DatasetCatalog.List(new DatasetLocator([new DatasetRoot(root, "test root")]));
        var byName = listing.ToDictionary(l => l.Name);
        Assert.True(byName["bigann10k"].Available);
        Assert.Equal(big, byName["bigann10k"].Directory);
        Assert.Equal("test root", byName["bigann10k"].Origin);
        Assert.Equal(10000, byName["bigann10k"].BaseCount);
        Assert.False(byName["scifact"].Available);
        Assert.Equal(4, byName["scifact"].MissingFiles.Count);
        Assert.False(byName["minilm-passages"].Available);
        Assert.Null(byName["minilm-passages"].Directory);
        Assert.Contains("retrieval datasets prepare minilm-passages", byName["minilm-passages"].Problem);
        Assert.True(byName["my-set"].Available);
        Assert.Null(byName["my-set"].Entry);
        Assert.Equal(Expected.Length + 1, listing.Count);
    }

    [Fact]
    public void TheBundledFixtureIsAvailableFromTheRepository()
    {
        var listing = DatasetCatalog.List(DatasetLocator.FromEnvironment(_ => null, TestData.RepoRoot));
        var tiny = listing.Single(l => l.Name == "tiny-dense");
        Assert.True(tiny.Available, tiny.Problem);
        Assert.Equal(2000, tiny.BaseCount);
        Assert.Equal(50, tiny.QueryCount);
    }
}
