using System.Text.Json.Nodes;

namespace Retrieval.Bench.Datasets.Recipes;

/// <summary>
/// Sets whose public sources are not reachable from the build machines (scifact, splade-queries, seismic-toy,
/// kv-minilm, bigann10k, cranfield): copied from the shared datasets ($RETRIEVAL_DATASETS, ../shared/datasets)
/// when a copy exists there, byte for byte, with the manifest's provenance extended.
/// </summary>
internal static class CopySharedRecipe
{
    public static void Run(RecipeContext context)
    {
        var name = context.Entry.Name;
        var source = context.FindExisting(name)
            ?? throw context.NotReachable(name, $"its public source ({context.Entry.Source}) is not reachable from this machine and no copy of it was found");
        var manifest = DatasetManifest.Load(source.Directory); // every listed file must be there before copying
        var files = Directory.GetFiles(source.Directory, "*", SearchOption.AllDirectories);
        long total = 0;
        foreach (var file in files) total += new FileInfo(file).Length;
        long done = 0;
        var buffer = new byte[1 << 20];
        foreach (var file in files)
        {
            var relative = Path.GetRelativePath(source.Directory, file);
            var target = Path.Combine(context.Staging, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var input = File.OpenRead(file);
            using var output = File.Create(target);
            int read;
            while ((read = input.Read(buffer)) > 0)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                output.Write(buffer, 0, read);
                done += read;
                context.Report($"copy {name} from {source.Directory}", done, total, "bytes");
            }
        }
        // Files outside the folder (absolute paths) stay where they are; say so rather than copy system files.
        foreach (var spec in manifest.Files())
        {
            if (!spec.Path.StartsWith(source.Directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                context.Notes.Add($"{spec.Field} stays at {spec.Path} (outside the copied folder)");
        }
        var written = JsonNode.Parse(File.ReadAllText(Path.Combine(context.Staging, DatasetManifest.FileName)))!.AsObject();
        written["prepared"] = new JsonObject
        {
            ["by"] = "retrieval datasets prepare " + name,
            ["at"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["copied_from"] = source.Directory,
        };
        ManifestWriter.Write(context.Staging, written);
        context.Notes.Add($"copied {files.Length} files ({total:N0} bytes) from {source.Directory} [{source.Origin}]");
    }
}
