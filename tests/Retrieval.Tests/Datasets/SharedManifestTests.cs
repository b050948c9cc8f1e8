using Retrieval.Bench.Datasets;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

/// <summary>Every manifest in ../shared/datasets loads; skipped when the shared folder is absent.</summary>
public class SharedManifestTests
{
    [SkippableTheory]
    [InlineData("bigann10k")]
    [InlineData("cranfield")]
    [InlineData("fashion-mnist")]
    [InlineData("kv-minilm")]
    [InlineData("minilm-passages")]
    [InlineData("passages")]
    [InlineData("scifact")]
    [InlineData("seismic-toy")]
    [InlineData("splade-queries")]
    public void SharedManifestLoads(string name)
    {
        var dir = TestData.SharedDataset(name);
        var m = DatasetManifest.Load(dir, requireFiles: false);
        Assert.Equal(name, m.Name);
        // kv-minilm states its provenance as "model" and "text" rather than "source".
        Assert.True(!string.IsNullOrEmpty(m.Source) || m.Extra.ContainsKey("model"), "no provenance");
        Assert.False(string.IsNullOrEmpty(m.Licence));
        Assert.NotEmpty(m.Files());
        var missing = m.MissingFiles();
        if (name == "fashion-mnist" && missing.Count > 0)
        {
            // The IDX images come from a Debian package this machine lacks: the error must say how to get them.
            var e = Assert.Throws<RetrievalException>(m.EnsureFilesExist);
            Assert.Contains("apt-get install -y dataset-fashion-mnist", e.Message);
        }
        else
        {
            Assert.Empty(missing);
        }
        // Catalog and shared copy agree on what the set is.
        var entry = DatasetCatalog.Get(name);
        Assert.Equal(entry.Kind, m.Kind);
        Assert.Equal(entry.Metric, m.Metric);
        Assert.Equal(entry.Dims, m.Dims);
        Assert.Equal(entry.BaseCount, m.Base?.Count ?? m.Corpus?.Count);
    }

    [SkippableFact]
    public void DenseManifestsDescribeTheirFiles()
    {
        var big = DatasetManifest.Load(TestData.SharedDataset("bigann10k"));
        Assert.Equal(DatasetKind.Dense, big.Kind);
        Assert.Equal(Metric.L2, big.Metric);
        Assert.Equal(128, big.Dims);
        Assert.Equal(10000, big.Base!.Count);
        Assert.Equal("uint8", big.Base.DType);
        Assert.Equal(100, big.GroundTruth!.K);
        Assert.Equal("npy", big.GroundTruth.Format);

        var minilm = DatasetManifest.Load(TestData.SharedDataset("minilm-passages"));
        Assert.Equal(Metric.Cosine, minilm.Metric);
        Assert.Equal("float16", minilm.Queries!.DType);
        Assert.Contains("passages.tsv.gz", minilm.Base!.ExtraString("texts"));

        var fashion = DatasetManifest.Load(TestData.SharedDataset("fashion-mnist"), requireFiles: false);
        Assert.True(Path.IsPathRooted(fashion.Base!.File));
        Assert.Equal("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", fashion.Base.Path);
        Assert.Equal("idx-ubyte-gz", fashion.Base.Format);
        Assert.Equal("apt-get install -y dataset-fashion-mnist", fashion.Queries!.Install);
        Assert.Equal(Path.Combine(fashion.Directory, "groundtruth.ivecs"), fashion.GroundTruth!.Path);
    }

    [SkippableFact]
    public void TextAndSparseShapesAreModelled()
    {
        var scifact = DatasetManifest.Load(TestData.SharedDataset("scifact"));
        Assert.Equal(DatasetKind.Beir, scifact.Kind);
        Assert.Equal(5183, scifact.Corpus!.Count);
        Assert.Equal(Path.Combine(scifact.Directory, "qrels", "test.tsv"), scifact.Qrels!.Path);
        Assert.Equal("SPLADE++ ED", scifact.SparseQueries!.ExtraString("encoder"));
        Assert.True(scifact.Extra.ContainsKey("reference_ndcg_at_10"));

        var splade = DatasetManifest.Load(TestData.SharedDataset("splade-queries"));
        Assert.Equal(4, splade.Sets.Count);
        Assert.Equal("sets[3]", splade.Sets[3].Field);
        Assert.Equal("uniCOIL", splade.Sets[3].ExtraString("encoder"));
        Assert.All(splade.Sets, s => Assert.Equal(6980, s.Count));
        Assert.Equal("trec-qrels", splade.Qrels!.Format);

        var cranfield = DatasetManifest.Load(TestData.SharedDataset("cranfield"));
        Assert.Equal(DatasetKind.Text, cranfield.Kind);
        Assert.Equal(1836, cranfield.Qrels!.Count);
    }

    [SkippableFact]
    public void KvManifestModelsHeadsAndRowRanges()
    {
        var kv = DatasetManifest.Load(TestData.SharedDataset("kv-minilm"));
        Assert.Equal(DatasetKind.Kv, kv.Kind);
        var head = Assert.Single(kv.Heads);
        Assert.Equal("L0H11", head.Name);
        Assert.Equal(0, head.Layer);
        Assert.Equal(11, head.Head);
        Assert.Equal(Path.Combine(kv.Directory, "L0H11.k.npy"), head.Keys.Path);
        Assert.Equal("heads[0].k", head.Keys.Field);
        Assert.NotNull(head.GroundTruthKthScore);
        Assert.Equal(new RowRange(0, 120000), kv.BaseRows);
        Assert.Equal(new RowRange(120000, 131072), kv.AppendRows);
        Assert.Equal(1000, kv.QueryPositions!.Count);
        Assert.Equal(32, kv.HeadDim);
        Assert.Equal(131072, kv.Positions);
        Assert.Equal(1 / Math.Sqrt(32), kv.ScoreScale!.Value, 12);
        // Its "groundtruth" is prose, not a file spec: kept as an extra field.
        Assert.Null(kv.GroundTruth);
        Assert.StartsWith("per head", kv.ExtraString("groundtruth"));
    }
}
