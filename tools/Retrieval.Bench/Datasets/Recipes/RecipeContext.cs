using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets.Recipes;

/// <summary>What one recipe run works with: its catalog entry, staging folder, progress sink, options and notes.</summary>
internal sealed class RecipeContext(CatalogEntry entry, string staging, string output, IProgress<PrepareProgress>? progress,
    CancellationToken cancellationToken, PrepareOptions options) : IDisposable
{
    private string? _ownedScratch;

    public CatalogEntry Entry { get; } = entry;
    /// <summary>The folder the recipe writes into; it becomes <see cref="Output"/> when complete.</summary>
    public string Staging { get; } = staging;
    /// <summary>The final folder (for messages and for sets that sit beside it).</summary>
    public string Output { get; } = output;
    public CancellationToken Cancellation { get; } = cancellationToken;
    public PrepareOptions Options { get; } = options;
    public List<string> Notes { get; } = [];
    public IProgress<PrepareProgress>? Progress { get; } = progress;

    public DatasetLocator Locator => Options.Locator ?? DatasetLocator.FromEnvironment();

    public void Report(string stage, long done = 0, long total = 0, string unit = "items", string? detail = null) =>
        Progress?.Report(new PrepareProgress(stage, done, total, unit, detail));

    /// <summary>The scratch folder for downloads: the caller's, else a temporary one removed on dispose.</summary>
    public string Scratch()
    {
        if (Options.ScratchDirectory is not null)
        {
            Directory.CreateDirectory(Options.ScratchDirectory);
            return Options.ScratchDirectory;
        }
        if (_ownedScratch is null)
        {
            _ownedScratch = Path.Combine(Path.GetTempPath(), $"retrieval-prepare-{Entry.Name}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(_ownedScratch);
        }
        return _ownedScratch;
    }

    /// <summary>
    /// A copy of a set made elsewhere (shared datasets, $RETRIEVAL_DATASETS, an earlier prepare), never the
    /// folder being written; null when there is none.
    /// </summary>
    public DatasetLocation? FindExisting(string name)
    {
        foreach (var root in Locator.Roots)
        {
            var dir = Path.GetFullPath(Path.Combine(root.Directory, name));
            if (string.Equals(dir, Output, StringComparison.Ordinal) || string.Equals(dir, Staging, StringComparison.Ordinal)) continue;
            var manifest = Path.Combine(dir, DatasetManifest.FileName);
            if (File.Exists(manifest)) return new DatasetLocation(name, dir, manifest, root.Origin);
        }
        return null;
    }

    public RetrievalException NotReachable(string name, string why) =>
        new(ErrorKind.NotFound,
            $"cannot prepare '{name}': {why}. Searched: {string.Join(", ", Locator.Roots.Select(r => $"{r.Directory} [{r.Origin}]"))}. " +
            $"Put a copy of the set (a folder {name}/ with its manifest.json) under one of these, or set ${DatasetLocator.DatasetsVariable} to a folder holding it");

    public void Dispose()
    {
        if (_ownedScratch is not null && Directory.Exists(_ownedScratch))
        {
            try
            {
                Directory.Delete(_ownedScratch, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temporary folder is harmless.
            }
        }
    }
}
