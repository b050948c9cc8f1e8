using System.Diagnostics;
using Retrieval.Bench.Datasets.Recipes;
using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets;

/// <summary>
/// Rebuilds a catalog set from its public source into a folder laid out like ../shared/datasets. What each
/// recipe does, needs and how long it takes is in its catalog entry (datasets/catalog/NAME.json):
/// passages / lexical-passages from Debian packages (wordnet-base, dict-gcide, Translation-en descriptions);
/// minilm-passages = those texts embedded with MiniLM (long: tens of minutes on 2 cores); fashion-mnist from the
/// Debian package dataset-fashion-mnist; tiny-dense sliced from bigann10k; the rest copied from the shared
/// datasets when present (their public sources are not reachable from the build machines).
/// The set is built in a staging folder next to <c>outputDirectory</c> and moved into place when complete.
/// </summary>
public static class DatasetRecipes
{
    /// <summary>Every recipe method a catalog entry may name.</summary>
    public static readonly IReadOnlyList<string> Methods =
        ["debian-texts", "debian-texts+minilm", "debian-fashion-mnist", "copy-shared", "slice-bigann10k"];

    /// <summary>Where `prepare NAME` writes by default: PreparedRoot/NAME.</summary>
    public static string DefaultOutputDirectory(string name) => Path.Combine(DatasetLocator.PreparedRoot(), name);

    public static PrepareResult Prepare(string name, string outputDirectory, IProgress<PrepareProgress>? progress = null,
        CancellationToken cancellationToken = default, PrepareOptions? options = null)
    {
        var entry = DatasetCatalog.Get(name);
        options ??= new PrepareOptions();
        var output = Path.GetFullPath(outputDirectory);
        var clock = Stopwatch.StartNew();

        if (!options.Overwrite && IsComplete(output, out var existing))
            return new PrepareResult(entry.Name, output, existing, ["already prepared; nothing done (overwrite to rebuild)"], clock.Elapsed);
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

    // Replacing a folder means deleting it: only ever delete an empty folder or an earlier dataset folder.
    private static void CheckOutputFolder(string output)
    {
        if (File.Exists(output)) Guard.ThrowInvalid($"output {output} is a file; give a folder for the dataset");
        if (!Directory.Exists(output)) return;
        if (Directory.EnumerateFileSystemEntries(output).Any() && !File.Exists(Path.Combine(output, DatasetManifest.FileName)))
            Guard.ThrowInvalid($"output folder {output} is not empty and holds no {DatasetManifest.FileName}: choose an empty folder or a dataset folder to replace");
    }
}
