using Retrieval.Bench.Datasets.Sources;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Datasets.Recipes;

/// <summary>
/// fashion-mnist: the images come from the Debian package dataset-fashion-mnist (IDX files under
/// /usr/share/datasets/fashion-mnist), which the recipe installs when missing and running as root; the manifest
/// points at them where they are. Ground truth (exact top-100 squared L2) is copied from the shared copy when
/// one exists, else computed with exact search.
/// </summary>
internal static class FashionMnistRecipe
{
    public const string Package = "dataset-fashion-mnist";
    public const int K = 100;

    public static void Run(RecipeContext context)
    {
        var entry = context.Entry;
        var baseSpec = entry.Manifest.Base!;
        var querySpec = entry.Manifest.Queries!;
        EnsurePackage(context, baseSpec, querySpec);

        var baseInfo = DenseVectorFile.ReadHeader(baseSpec.Path);
        var queryInfo = DenseVectorFile.ReadHeader(querySpec.Path);
        foreach (var (info, spec) in new[] { (baseInfo, baseSpec), (queryInfo, querySpec) })
        {
            if (info.Count != spec.Count || info.Dimension != entry.Dims)
                throw new DataFormatException(spec.Path,
                    $"expected {spec.Count} images of {entry.Dims} pixels for fashion-mnist {spec.Field}, found {info.Count} x {info.Dimension}",
                    kind: ErrorKind.Incompatible);
        }

        var groundTruth = Path.Combine(context.Staging, "groundtruth.ivecs");
        var shipped = context.Options.ComputeGroundTruth ? null : context.FindExisting(entry.Name);
        var shippedFile = shipped is null ? null : Path.Combine(shipped.Directory, "groundtruth.ivecs");
        if (shippedFile is not null && File.Exists(shippedFile))
        {
            var ids = IntMatrixFile.Read(shippedFile);
            if (ids.Rows != queryInfo.Count || ids.Columns != K)
                throw new DataFormatException(shippedFile, $"expected {queryInfo.Count} rows of {K} ids, found {ids.Rows} x {ids.Columns}",
                    kind: ErrorKind.Incompatible);
            File.Copy(shippedFile, groundTruth);
            context.Notes.Add($"ground truth copied from {shippedFile} (pass ComputeGroundTruth / --compute-gt to recompute it exactly)");
        }
        else
        {
            context.Report("read Fashion-MNIST images");
            var baseVectors = DenseVectorFile.Read(baseSpec.Path);
            var queries = DenseVectorFile.Read(querySpec.Path);
            var (ids, _) = ExactGroundTruth.Compute(context, "exact top-100 L2 ground truth (60,000 x 10,000 x 784)", baseVectors, queries, Metric.L2, K);
            IntMatrixFile.Write(groundTruth, ids);
            context.Notes.Add("ground truth computed by exact search (squared L2 on the uint8 pixels, ties by lower id)");
        }

        var manifest = ManifestWriter.FromCatalog(entry);
        manifest["source"] = $"Debian package {Package} {PackageVersion(context) ?? "(version unknown)"}";
        manifest["note"] = "IDX: big-endian header (magic 0x00000803, count, rows, cols), then count*rows*cols bytes; vectors used as float32 pixel values 0..255; same split as ann-benchmarks fashion-mnist-784-euclidean";
        ManifestWriter.Write(context.Staging, manifest);
    }

    private static void EnsurePackage(RecipeContext context, DatasetFileSpec baseSpec, DatasetFileSpec querySpec)
    {
        if (File.Exists(baseSpec.Path) && File.Exists(querySpec.Path)) return;
        var command = $"apt-get install -y {Package}";
        if (!context.Options.InstallPackages || !Environment.IsPrivilegedProcess)
            throw new RetrievalException(ErrorKind.NotFound,
                $"the Fashion-MNIST images are missing ({baseSpec.Path}, {querySpec.Path}): install the Debian package as root with `{command}`, then run the recipe again");
        context.Report($"install {Package} (apt-get)");
        try
        {
            ExternalCommand.Run("apt-get", ["install", "-y", "--no-install-recommends", Package], null, context.Cancellation);
        }
        catch (RetrievalException e) when (e.Kind == ErrorKind.Incompatible)
        {
            // A fresh machine may have no package lists yet.
            context.Report("apt-get update");
            ExternalCommand.Run("apt-get", ["update"], null, context.Cancellation);
            ExternalCommand.Run("apt-get", ["install", "-y", "--no-install-recommends", Package], null, context.Cancellation);
        }
        if (!File.Exists(baseSpec.Path) || !File.Exists(querySpec.Path))
            throw new RetrievalException(ErrorKind.NotFound, $"{Package} is installed but {baseSpec.Path} or {querySpec.Path} is missing");
        context.Notes.Add($"installed the Debian package {Package}");
    }

    private static string? PackageVersion(RecipeContext context)
    {
        try
        {
            return ExternalCommand.Run("dpkg-query", ["-W", "-f=${Version}", Package], null, context.Cancellation).Trim();
        }
        catch (RetrievalException)
        {
            return null;
        }
    }
}
