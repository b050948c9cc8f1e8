using Retrieval.Bench.Datasets;
using Retrieval.Index.Errors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

public class LocatorTests
{
    private static string MakeSet(string root, string name, string? note = null)
    {
        var dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "q.tsv"), "q1\thello\n");
        File.WriteAllText(Path.Combine(dir, "p.tsv"), "p1\tworld\n");
        File.WriteAllText(Path.Combine(dir, "manifest.json"),
            $$"""{"name": "{{name}}", "kind": "sparse-text", "base": {"file": "p.tsv"}, "queries": {"file": "q.tsv"}, "note": "{{note ?? root}}"}""");
        return dir;
    }

    [Fact]
    public void APathToAFolderOrToItsManifestIsUsedAsIs()
    {
        var root = TestData.TempDirectory();
        var dir = MakeSet(root, "anything");
        var locator = new DatasetLocator([]);
        var byFolder = locator.Locate(dir);
        Assert.Equal(dir, byFolder.Directory);
        Assert.Equal("path", byFolder.Origin);
        var byManifest = locator.Locate(Path.Combine(dir, "manifest.json"));
        Assert.Equal(dir, byManifest.Directory);
        Assert.Equal("anything", byManifest.Load().Name);
    }

    [Fact]
    public void APathWithoutAManifestIsNotFound()
    {
        var empty = TestData.TempDirectory();
        var locator = new DatasetLocator([]);
        var e = Assert.Throws<RetrievalException>(() => locator.Locate(empty));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("holds no manifest.json", e.Message);
        var missing = Assert.Throws<RetrievalException>(() => locator.Locate(Path.Combine(empty, "no", "such")));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
    }

    [Fact]
    public void NamesAreSearchedInRootOrderFirstMatchWins()
    {
        var first = TestData.TempDirectory();
        var second = TestData.TempDirectory();
        MakeSet(second, "shared-one", "second");
        MakeSet(first, "shared-one", "first");
        MakeSet(second, "only-second");
        var locator = new DatasetLocator([new DatasetRoot(first, "one"), new DatasetRoot(second, "two")]);
        var found = locator.Locate("shared-one");
        Assert.Equal("one", found.Origin);
        Assert.Equal("first", found.Load().Note);
        Assert.Equal("two", locator.Locate("only-second").Origin);
        var all = locator.ListAll();
        Assert.Equal(["shared-one", "only-second"], all.Select(l => l.Name).ToArray());
        Assert.Equal("one", all[0].Origin);
    }

    [Fact]
    public void TheEnvironmentVariableRootComesFirstAndPrepareHomeIsSearched()
    {
        var envRoot = TestData.TempDirectory();
        var home = TestData.TempDirectory();
        MakeSet(envRoot, "tiny-dense", "from env");
        MakeSet(home, "prepared-only");
        var env = new Dictionary<string, string?>
        {
            [DatasetLocator.DatasetsVariable] = envRoot,
            [DatasetLocator.DataHomeVariable] = home,
        };
        var locator = DatasetLocator.FromEnvironment(name => env.GetValueOrDefault(name), TestData.RepoRoot);
        Assert.Equal(envRoot, locator.Roots[0].Directory);
        // The env root shadows the repo fixture of the same name.
        Assert.Equal("from env", locator.Locate("tiny-dense").Load().Note);
        Assert.Equal("prepared datasets", locator.Locate("prepared-only").Origin);
        Assert.Equal(home, DatasetLocator.PreparedRoot(name => env.GetValueOrDefault(name)));
        Assert.Contains(locator.Roots, r => r.Directory == Path.Combine(TestData.RepoRoot, "datasets", "fixtures"));
        Assert.Contains(locator.Roots, r => r.Directory == Path.GetFullPath(Path.Combine(TestData.RepoRoot, "..", "shared", "datasets")));
    }

    [Fact]
    public void WithoutVariablesTheRepositoryFixturesAreFound()
    {
        var locator = DatasetLocator.FromEnvironment(_ => null, TestData.RepoRoot);
        var tiny = locator.Locate("tiny-dense");
        Assert.Equal(Path.Combine(TestData.RepoRoot, "datasets", "fixtures", "tiny-dense"), tiny.Directory);
        Assert.Equal("repository fixtures", tiny.Origin);
        var manifest = tiny.Load();
        Assert.Equal(2000, manifest.Base!.Count);
        // The default prepare root sits in the user's cache.
        Assert.EndsWith(Path.Combine(".cache", "retrieval", "datasets"), DatasetLocator.PreparedRoot(_ => null));
    }

    [Fact]
    public void TheRelativeFixturePathFromTheReadmeResolves()
    {
        var path = Path.Combine(TestData.RepoRoot, "datasets", "fixtures", "tiny-dense");
        var rel = Path.GetRelativePath(Directory.GetCurrentDirectory(), path);
        var found = new DatasetLocator([]).Locate(rel.Contains(Path.DirectorySeparatorChar) ? rel : "./" + rel);
        Assert.Equal(path, found.Directory);
    }

    [Fact]
    public void AnUnknownNameListsWhereItLookedAndTheKnownNames()
    {
        var root = TestData.TempDirectory();
        MakeSet(root, "here-set");
        var absent = Path.Combine(root, "absent-root");
        var locator = new DatasetLocator([new DatasetRoot(root, "mine"), new DatasetRoot(absent, "gone")]);
        var e = Assert.Throws<RetrievalException>(() => locator.Locate("no-such-set"));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("unknown dataset 'no-such-set'", e.Message);
        Assert.Contains($"{root} [mine]", e.Message);
        Assert.Contains($"{absent} [gone] (absent)", e.Message);
        Assert.Contains("here-set", e.Message);
        Assert.Contains("minilm-passages", e.Message); // catalog names are listed too
    }

    [Fact]
    public void ACatalogNameNotOnThisMachineSuggestsPrepare()
    {
        var locator = new DatasetLocator([new DatasetRoot(TestData.TempDirectory(), "empty")]);
        var e = Assert.Throws<RetrievalException>(() => locator.Locate("fashion-mnist"));
        Assert.Contains("retrieval datasets prepare fashion-mnist", e.Message);
    }

    [Fact]
    public void LexicalPassagesIsAnAliasOfPassages()
    {
        var root = TestData.TempDirectory();
        var passages = MakeSet(root, "passages");
        var locator = new DatasetLocator([new DatasetRoot(root, "mine")]);
        var found = locator.Locate("lexical-passages");
        Assert.Equal(passages, found.Directory);
        Assert.Equal("lexical-passages", found.Name);
        Assert.Contains("alias of passages", found.Origin);
    }

    [Fact]
    public void AnEmptyArgumentIsInvalid()
    {
        var e = Assert.Throws<RetrievalException>(() => new DatasetLocator([]).Locate(" "));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
    }
}
