using System.Diagnostics;
using Retrieval.Bench.Datasets.Recipes;
using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets;

/// <summary>
/// Rebuilds a catalog set from its public source into a folder laid out like ../shared/datasets. What each
/// recipe does, needs and how long it takes is in its catalog entry (datasets/catalog/NAME.json):
/// passages / lexical-passages from Debian packages (wordnet-base, dict-gcide, Translation-en descriptions);
/// minilm-passages = those texts embedded with MiniLM (long: tens of minutes on 2 cores); fashion-mnist from the
/// Debian package dataset-fashion-mnist; tiny-dense sliced from bigann10k; minilm-2m synthesised from minilm-passages
/// (2,000,000 rows, or a sample with <see cref="PrepareOptions.Rows"/>; datasets/README.md); the rest copied from the shared
/// datasets when present (their public sources are not reachable from the build machines).
/// The set is built in a staging folder next to <c>outputDirectory</c> and moved into place when complete.
/// </summary>
public static class DatasetRecipes
{
    /// <summary>Every recipe method a catalog entry may name.</summary>
    public static readonly IReadOnlyList<string> Methods =
        ["debian-texts", "debian-texts+minilm", "debian-fashion-mnist", "copy-shared", "slice-bigann10k", "synth-minilm"];

    /// <summary>Where `prepare NAME` writes by default: PreparedRoot/NAME.</summary>
    public static string DefaultOutputDirectory(string name) => Path.Combine(DatasetLocator.PreparedRoot(), name);

    /// <summary>
    /// Where `prepare NAME` writes by default given the options: PreparedRoot/NAME, except that a minilm-2m variant
    /// (--rows other than 2,000,000) goes to PreparedRoot/minilm-2m-rowsN.
    /// </summary>
    public static string DefaultOutputDirectory(string name, PrepareOptions options) =>
        DatasetCatalog.Find(name)?.RecipeMethod == "synth-minilm"
            ? Path.Combine(DatasetLocator.PreparedRoot(), MiniLm2mRecipe.DefaultDirectoryName(options))
            : DefaultOutputDirectory(name);

    public static PrepareResult Prepare(string name, string outputDirectory, IProgress<PrepareProgress>? progress = null,
        CancellationToken cancellationToken = default, PrepareOptions? options = null)
    {
        var entry = DatasetCatalog.Get(name);
        options ??= new PrepareOptions();
        var output = Path.GetFullPath(outputDirectory);
        var clock = Stopwatch.StartNew();
        if (entry.RecipeMethod != "synth-minilm" && (options.Rows is not null || options.Sigma is not null || options.Seed is not null || options.QueryCount is not null))
            Guard.ThrowInvalid($"rows, sigma, seed and queries are options of the minilm-2m recipe, not of {entry.Name}");

        if (!options.Overwrite && IsComplete(output, out var existing))
        {
            if (entry.RecipeMethod == "synth-minilm") CheckSameVariant(existing, MiniLm2mRecipe.Command(options));
            return new PrepareResult(entry.Name, output, existing, ["already prepared; nothing done (overwrite to rebuild)"], clock.Elapsed);
        }
        CheckOutputFolder(output);

        var staging = output + ".partial-" + Environment.ProcessId;
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        var context = new RecipeContext(entry, staging, output, progress, cancellationToken, options);
        try
        {
            switch (entry.RecipeMethod)
            {
                case "debian-texts": PassagesRecipe.Run(context); break;
                case "debian-texts+minilm": MiniLmPassagesRecipe.Run(context); break;
                case "debian-fashion-mnist": FashionMnistRecipe.Run(context); break;
                case "copy-shared": CopySharedRecipe.Run(context); break;
                case "slice-bigann10k": TinyDenseRecipe.Run(context); break;
                case "synth-minilm": MiniLm2mRecipe.Run(context); break;
                default:
                    throw new RetrievalException(ErrorKind.Internal, $"catalog entry {entry.Name} names an unknown recipe '{entry.RecipeMethod}'");
            }
            // The staged set must load with every file present before it replaces anything.
            DatasetManifest.Load(staging);
            cancellationToken.ThrowIfCancellationRequested();
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
            Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            Directory.Move(staging, output);
        }
        catch
        {
            try
            {
                if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            }
            catch (IOException)
            {
                // Leave the staging folder; the original error matters more.
            }
            throw;
        }
        finally
        {
            context.Dispose();
        }
        return new PrepareResult(entry.Name, output, Path.Combine(output, DatasetManifest.FileName), context.Notes, clock.Elapsed);
    }

    private static bool IsComplete(string folder, out string manifestPath)
    {
        manifestPath = Path.Combine(folder, DatasetManifest.FileName);
        if (!File.Exists(manifestPath)) return false;
        try
        {
            return DatasetManifest.Load(folder, requireFiles: false).MissingFiles().Count == 0;
        }
        catch (RetrievalException)
        {
            return false;
        }
    }

    // A complete minilm-2m folder made with other rows, sigma, seed or queries is not the set asked for.
    private static void CheckSameVariant(string manifestPath, string command)
    {
        var manifest = DatasetManifest.Load(manifestPath, requireFiles: false);
        string? by = manifest.Extra.TryGetValue("prepared", out var prepared) && prepared.ValueKind == System.Text.Json.JsonValueKind.Object
            && prepared.TryGetProperty("by", out var b) ? b.GetString() : null;
        if (!string.Equals(by, command, StringComparison.Ordinal))
            Guard.ThrowInvalid($"{Path.GetDirectoryName(manifestPath)} already holds a set made by '{by}', not '{command}': overwrite it or choose another output folder");
    }

    // Replacing a folder means deleting it: only ever delete an empty folder or an earlier dataset folder.
    private static void CheckOutputFolder(string output)
    {
        if (File.Exists(output)) Guard.ThrowInvalid($"output {output} is a file; give a folder for the dataset");
        if (!Directory.Exists(output)) return;
        if (Directory.EnumerateFileSystemEntries(output).Any() && !File.Exists(Path.Combine(output, DatasetManifest.FileName)))
            Guard.ThrowInvalid($"output folder {output} is not empty and holds no {DatasetManifest.FileName}: choose an empty folder or a dataset folder to replace");
    }
}
