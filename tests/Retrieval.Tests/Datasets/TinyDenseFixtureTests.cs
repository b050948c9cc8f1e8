using Retrieval.Bench.Datasets;
using Retrieval.Index.Exact;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

/// <summary>
/// The bundled tiny-dense fixture (README's first command runs on it) is a real slice of bigann10k with exact
/// ground truth: checked here with a plain brute force in exact integer arithmetic, and against bigann10k itself
/// when ../shared is present.
/// </summary>
public class TinyDenseFixtureTests
{
    private static DatasetManifest Manifest() => DatasetManifest.Load(TestData.Fixture("tiny-dense"));

    [Fact]
    public void TheManifestDescribesItsFiles()
    {
        var m = Manifest();
        Assert.Equal(DatasetKind.Dense, m.Kind);
        Assert.Equal(Metric.L2, m.Metric);
        var baseInfo = DenseVectorFile.ReadHeader(m.Base!.Path);
        var queryInfo = DenseVectorFile.ReadHeader(m.Queries!.Path);
        Assert.Equal(m.Base.Count, baseInfo.Count);
        Assert.Equal(m.Queries.Count, queryInfo.Count);
        Assert.Equal(m.Dims, baseInfo.Dimension);
        Assert.Equal(ElementType.UInt8, baseInfo.ElementType);
        var gt = IntMatrixFile.Read(m.GroundTruth!.Path);
        Assert.Equal(m.Queries.Count, gt.Rows);
        Assert.Equal(m.GroundTruth.K, gt.Columns);
        long bytes = 0;
        foreach (var f in Directory.GetFiles(m.Directory)) bytes += new FileInfo(f).Length;
        Assert.True(bytes < 320_000, $"the fixture should stay small, it is {bytes} bytes");
    }

    [Fact]
    public void TheGroundTruthIsExact()
    {
        var m = Manifest();
        var baseVectors = DenseVectorFile.Read(m.Base!.Path);
        var queries = DenseVectorFile.Read(m.Queries!.Path);
        var gt = IntMatrixFile.Read(m.GroundTruth!.Path);
        var distances = FloatMatrixFile.Read(Path.Combine(m.Directory, "groundtruth.dist.fvecs"));
        var order = new int[baseVectors.Count];
        var d2 = new long[baseVectors.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            var query = queries.UInt8Row(q);
            for (int i = 0; i < baseVectors.Count; i++)
            {
                var row = baseVectors.UInt8Row(i);
                long sum = 0;
                for (int j = 0; j < row.Length; j++)
                {
                    int diff = query[j] - row[j];
                    sum += diff * diff;
                }
                d2[i] = sum;
                order[i] = i;
            }
            Array.Sort(order, (a, b) => d2[a] != d2[b] ? d2[a].CompareTo(d2[b]) : a.CompareTo(b));
            for (int r = 0; r < gt.Columns; r++)
            {
                Assert.Equal(order[r], gt.Row(q)[r]);
                Assert.Equal(d2[order[r]], (long)distances.Row(q)[r]);
            }
            // No tie straddles rank 10 or rank 100, so any exact search must return exactly these ids.
            Assert.NotEqual(d2[order[9]], d2[order[10]]);
            Assert.NotEqual(d2[order[99]], d2[order[100]]);
        }
    }

    [Fact]
    public void ExactDenseIndexReproducesTheGroundTruth()
    {
        var m = Manifest();
        var index = new ExactDenseIndex(DenseVectorFile.Read(m.Base!.Path), Metric.L2);
        var results = index.Search(DenseVectorFile.Read(m.Queries!.Path), 100);
        var gt = IntMatrixFile.Read(m.GroundTruth!.Path);
        var distances = FloatMatrixFile.Read(Path.Combine(m.Directory, "groundtruth.dist.fvecs"));
        Assert.Equal(gt.Data, results.Ids);
        Assert.Equal(distances.Data, results.Scores);
    }

    [SkippableFact]
    public void ThePrepareRecipeRebuildsTheFixtureByteForByte()
    {
        var shared = TestData.SharedDatasetsRoot();
        Skip.If(shared is null, "../shared/datasets not found: bigann10k unavailable");
        var output = Path.Combine(TestData.TempDirectory(), "tiny-dense");
        var options = new PrepareOptions { Locator = new DatasetLocator([new DatasetRoot(shared!, "shared")]) };
        var result = DatasetRecipes.Prepare("tiny-dense", output, options: options);
        var rebuilt = DatasetManifest.Load(result.Directory);
        var committed = Manifest();
        foreach (var file in new[] { "base.u8bin", "queries.u8bin", "groundtruth.ivecs", "groundtruth.dist.fvecs" })
            Assert.True(File.ReadAllBytes(Path.Combine(committed.Directory, file)).SequenceEqual(File.ReadAllBytes(Path.Combine(rebuilt.Directory, file))), file);
        Assert.Equal(committed.Base!.Count, rebuilt.Base!.Count);
        Assert.Equal(committed.GroundTruth!.K, rebuilt.GroundTruth!.K);
    }

    [SkippableFact]
    public void TheFixtureIsASliceOfBigann10k()
    {
        var bigann = DatasetManifest.Load(TestData.SharedDataset("bigann10k"));
        var all = DenseVectorFile.Read(bigann.Base!.Path);
        var m = Manifest();
        var baseVectors = DenseVectorFile.Read(m.Base!.Path);
        var queries = DenseVectorFile.Read(m.Queries!.Path);
        Assert.True(all.Slice(0, 2000).RawData.SequenceEqual(baseVectors.RawData));
        Assert.True(all.Slice(2000, 50).RawData.SequenceEqual(queries.RawData));
    }
}
