using Retrieval.Bench.Datasets;
using Retrieval.Index.Formats;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

/// <summary>
/// The fashion-mnist recipe with the shipped ground truth (the exact recomputation takes minutes and is not run
/// here; see the datasets report for its measured time and its agreement with the shipped file).
/// </summary>
public class FashionMnistRecipeTests
{
    [SkippableFact]
    public void PreparingWritesAManifestOverTheDebianImagesAndTheShippedGroundTruth()
    {
        var shared = TestData.SharedDataset("fashion-mnist");
        var catalog = DatasetCatalog.Get("fashion-mnist").Manifest;
        Skip.IfNot(File.Exists(catalog.Base!.Path) && File.Exists(catalog.Queries!.Path),
            "dataset-fashion-mnist is not installed (apt-get install -y dataset-fashion-mnist)");
        var output = Path.Combine(TestData.TempDirectory(), "fashion-mnist");
        var options = new PrepareOptions
        {
            Locator = new DatasetLocator([new DatasetRoot(Path.GetDirectoryName(shared)!, "shared")]),
            InstallPackages = false,
        };
        var result = DatasetRecipes.Prepare("fashion-mnist", output, options: options);
        var m = DatasetManifest.Load(result.Directory);
        Assert.Equal("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", m.Base!.Path);
        Assert.Equal(60000, DenseVectorFile.ReadHeader(m.Base.Path).Count);
        Assert.Equal(784, DenseVectorFile.ReadHeader(m.Queries!.Path).Dimension);
        Assert.True(File.ReadAllBytes(Path.Combine(shared, "groundtruth.ivecs")).SequenceEqual(File.ReadAllBytes(m.GroundTruth!.Path)));
        Assert.Contains(result.Notes, n => n.Contains("copied"));
        Assert.StartsWith("Debian package dataset-fashion-mnist 0.0~git20200523.55506a9-1", m.Source);
    }
}
