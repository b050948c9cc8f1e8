using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Datasets.Recipes;

/// <summary>
/// tiny-dense, the bundled fixture: bigann10k base rows [0, 2000) as base and rows [2000, 2050) as held-out
/// queries (.u8bin), exact top-100 squared L2 ids (.ivecs) and distances (.fvecs). Rebuilding it from bigann10k
/// gives the committed fixture's data files byte for byte (the manifest text may differ in layout).
/// </summary>
internal static class TinyDenseRecipe
{
    public const int BaseRows = 2000;
    public const int QueryRows = 50;
    public const int K = 100;

    public static void Run(RecipeContext context)
    {
        var source = context.FindExisting("bigann10k")
            ?? throw context.NotReachable("tiny-dense", "it is sliced from bigann10k, which was not found");
        var bigann = DatasetManifest.Load(source.Directory);
        var all = DenseVectorFile.Read(bigann.Base!.Path);
        if (all.ElementType != ElementType.UInt8 || all.Dimension != 128 || all.Count < BaseRows + QueryRows)
            throw new DataFormatException(bigann.Base.Path,
                $"expected at least {BaseRows + QueryRows} uint8 vectors of 128 dimensions, found {all.Count} {all.ElementType.ToName()} x {all.Dimension}",
                kind: ErrorKind.Incompatible);
        Write(context, all.Slice(0, BaseRows), all.Slice(BaseRows, QueryRows));
        context.Notes.Add($"sliced from {source.Directory}");
    }

    internal static void Write(RecipeContext context, DenseVectors baseVectors, DenseVectors queries)
    {
        DenseVectorFile.Write(Path.Combine(context.Staging, "base.u8bin"), baseVectors);
        DenseVectorFile.Write(Path.Combine(context.Staging, "queries.u8bin"), queries);
        var (ids, distances) = ExactGroundTruth.Compute(context, "exact top-100 L2", baseVectors, queries, Metric.L2, K);
        IntMatrixFile.Write(Path.Combine(context.Staging, "groundtruth.ivecs"), ids);
        FloatMatrixFile.Write(Path.Combine(context.Staging, "groundtruth.dist.fvecs"), distances);
        // The fixture's manifest is the committed one; the catalog entry describes the same files.
        var manifest = ManifestWriter.FromCatalog(context.Entry);
        manifest.Remove("description");
        manifest["base"]!["rows"] = $"bigann10k base rows 0..{BaseRows - 1}";
        manifest["queries"]!["rows"] = $"bigann10k base rows {BaseRows}..{BaseRows + QueryRows - 1} (held out: not in this base)";
        manifest["groundtruth_distances"] = new System.Text.Json.Nodes.JsonObject
        {
            ["file"] = "groundtruth.dist.fvecs",
            ["format"] = "fvecs",
            ["k"] = K,
            ["what"] = "squared L2 distance of each ground-truth neighbour",
        };
        ManifestWriter.Write(context.Staging, manifest);
    }
}
