namespace Retrieval.Tests.Support;

/// <summary>
/// Finds the repo's fixtures (datasets/fixtures) and the shared real datasets (../shared/datasets beside the
/// checkout, or $RETRIEVAL_DATASETS). Tests that need a shared set call <see cref="SharedDataset"/> inside a
/// [SkippableFact], so a fresh clone without ../shared reports them as skipped with the reason.
/// </summary>
public static class TestData
{
    private static readonly Lazy<string> RepoRootLazy = new(FindRepoRoot);

    public static string RepoRoot => RepoRootLazy.Value;

    public static string Fixture(params string[] parts) =>
        Path.Combine([RepoRoot, "datasets", "fixtures", .. parts]);

    /// <summary>The shared datasets folder, or null when this machine has none.</summary>
    public static string? SharedDatasetsRoot()
    {
        var env = Environment.GetEnvironmentVariable("RETRIEVAL_DATASETS");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        var beside = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "datasets"));
        return Directory.Exists(beside) ? beside : null;
    }

    /// <summary>Path of one shared dataset folder; skips the calling test when it is absent.</summary>
    public static string SharedDataset(string name)
    {
        var root = SharedDatasetsRoot();
        Skip.If(root is null, $"../shared/datasets not found beside the checkout (set RETRIEVAL_DATASETS): dataset '{name}' unavailable");
        var dir = Path.Combine(root!, name);
        Skip.IfNot(Directory.Exists(dir), $"shared dataset '{name}' not found under {root}");
        return dir;
    }

    /// <summary>Name of the variable that enables tests too long for the default run (minutes of CPU each).</summary>
    public const string LongTestsVariable = "RETRIEVAL_LONG_TESTS";

    /// <summary>
    /// Skips the calling test unless $RETRIEVAL_LONG_TESTS=1: the default suite must stay under 10 minutes on
    /// 2 cores, and a few acceptance checks (encoding a whole corpus with MiniLM) take longer than that alone.
    /// </summary>
    public static void RequireLongTests(string why)
    {
        Skip.IfNot(Environment.GetEnvironmentVariable(LongTestsVariable) == "1",
            $"long test ({why}); set {LongTestsVariable}=1 to run it");
    }

    public static string TempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "retrieval-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Retrieval.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Retrieval.sln not found above " + AppContext.BaseDirectory);
    }
}
