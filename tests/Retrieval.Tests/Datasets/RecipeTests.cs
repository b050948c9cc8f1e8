using Retrieval.Bench.Datasets;
using Retrieval.Index.Errors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

/// <summary>Recipe plumbing on small local data (the long, networked recipes are not run in tests).</summary>
public class RecipeTests
{
    private sealed class Recorder : IProgress<PrepareProgress>
    {
        public List<PrepareProgress> Reports { get; } = [];
        public void Report(PrepareProgress value) => Reports.Add(value);
    }

    /// <summary>A root holding a small set named seismic-toy (catalog recipe: copy-shared).</summary>
    private static string RootWithToySet()
    {
        var root = TestData.TempDirectory();
        var dir = Path.Combine(root, "seismic-toy");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        File.WriteAllText(Path.Combine(dir, "documents.jsonl"), "{\"id\": \"d0\", \"vector\": {\"a\": 1.0}}\n");
        File.WriteAllText(Path.Combine(dir, "sub", "queries.jsonl"), "{\"id\": \"q0\", \"vector\": {\"a\": 2.0}}\n");
        File.WriteAllText(Path.Combine(dir, "manifest.json"), """
            {"name": "seismic-toy", "kind": "sparse", "metric": "ip",
             "base": {"file": "documents.jsonl", "format": "seismic-jsonl", "count": 1},
             "queries": {"file": "sub/queries.jsonl", "format": "seismic-jsonl", "count": 1},
             "source": "test", "licence": "MIT"}
            """);
        return root;
    }

    [Fact]
    public void CopyRecipesCopyEveryFileAndRecordWhereFrom()
    {
        var root = RootWithToySet();
        var output = Path.Combine(TestData.TempDirectory(), "prepared", "seismic-toy");
        var progress = new Recorder();
        var options = new PrepareOptions { Locator = new DatasetLocator([new DatasetRoot(root, "test root")]) };
        var result = DatasetRecipes.Prepare("seismic-toy", output, progress, options: options);

        Assert.Equal(output, result.Directory);
        var manifest = DatasetManifest.Load(output);
        Assert.Equal(1, manifest.Queries!.Count);
        Assert.Equal(File.ReadAllText(Path.Combine(root, "seismic-toy", "sub", "queries.jsonl")), File.ReadAllText(manifest.Queries.Path));
        Assert.True(manifest.Extra.ContainsKey("prepared"));
        Assert.Contains(result.Notes, n => n.Contains("copied 3 files"));
        Assert.NotEmpty(progress.Reports);
        var last = progress.Reports[^1];
        Assert.Equal(last.Total, last.Done);
        Assert.Equal("bytes", last.Unit);
        Assert.False(Directory.Exists(output + ".partial-" + Environment.ProcessId));

        // A second run finds the set complete and does nothing; Overwrite rebuilds it.
        var again = DatasetRecipes.Prepare("seismic-toy", output, options: options);
        Assert.Contains(again.Notes, n => n.Contains("already prepared"));
        var rebuilt = DatasetRecipes.Prepare("seismic-toy", output, options: options with { Overwrite = true });
        Assert.Contains(rebuilt.Notes, n => n.Contains("copied"));
    }

    [Fact]
    public void ACopyRecipeWithoutASourceSaysWhereItLooked()
    {
        var empty = TestData.TempDirectory();
        var output = Path.Combine(TestData.TempDirectory(), "scifact");
        var options = new PrepareOptions { Locator = new DatasetLocator([new DatasetRoot(empty, "empty root")]) };
        var e = Assert.Throws<RetrievalException>(() => DatasetRecipes.Prepare("scifact", output, options: options));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("not reachable from this machine", e.Message);
        Assert.Contains($"{empty} [empty root]", e.Message);
        Assert.Contains("RETRIEVAL_DATASETS", e.Message);
        Assert.False(Directory.Exists(output));
        Assert.False(Directory.Exists(output + ".partial-" + Environment.ProcessId));
    }

    [Fact]
    public void AnIncompleteSourceIsNotCopied()
    {
        var root = RootWithToySet();
        File.Delete(Path.Combine(root, "seismic-toy", "documents.jsonl"));
        var output = Path.Combine(TestData.TempDirectory(), "seismic-toy");
        var options = new PrepareOptions { Locator = new DatasetLocator([new DatasetRoot(root, "test root")]) };
        var e = Assert.Throws<RetrievalException>(() => DatasetRecipes.Prepare("seismic-toy", output, options: options));
        Assert.Contains("documents.jsonl", e.Message);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void AFolderThatIsNotADatasetIsNeverReplaced()
    {
        var root = RootWithToySet();
        var output = TestData.TempDirectory();
        File.WriteAllText(Path.Combine(output, "precious.txt"), "keep me");
        var options = new PrepareOptions { Locator = new DatasetLocator([new DatasetRoot(root, "test root")]), Overwrite = true };
        var e = Assert.Throws<RetrievalException>(() => DatasetRecipes.Prepare("seismic-toy", output, options: options));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("holds no manifest.json", e.Message);
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(output, "precious.txt")));
    }

    [Fact]
    public void UnknownNamesAreRejected()
    {
        var e = Assert.Throws<RetrievalException>(() => DatasetRecipes.Prepare("no-such-set", TestData.TempDirectory()));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("minilm-passages", e.Message);
    }

    [Fact]
    public void CancellationStopsARecipeAndLeavesNothingBehind()
    {
        var root = RootWithToySet();
        var output = Path.Combine(TestData.TempDirectory(), "seismic-toy");
        var options = new PrepareOptions { Locator = new DatasetLocator([new DatasetRoot(root, "test root")]) };
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => DatasetRecipes.Prepare("seismic-toy", output, null, cts.Token, options));
        Assert.False(Directory.Exists(output));
        Assert.False(Directory.Exists(output + ".partial-" + Environment.ProcessId));
    }

    [Fact]
    public void TheDefaultOutputIsUnderThePreparedRoot()
    {
        Assert.Equal(Path.Combine(DatasetLocator.PreparedRoot(), "passages"), DatasetRecipes.DefaultOutputDirectory("passages"));
    }
}
