using Retrieval.Index.Errors;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

public class SpannBadInputTests
{
    private static readonly SpannBuildOptions Small = new() { Metric = Metric.L2, HeadRatio = 0.1 };

    [Fact]
    public void QueryOfTheWrongDimensionIsRejected()
    {
        using var index = SpannTestData.BuildAndOpen(SpannTestData.RandomFloat(1, 300, 16), Small, out _);
        var e = Assert.Throws<RetrievalException>(() => index.SearchOne(new float[15], 5, new SpannSearchParameters(), new int[5], new float[5]));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("dimension mismatch", e.Message);
        Assert.Throws<RetrievalException>(() => index.Search(SpannTestData.RandomFloat(2, 3, 17), 5, new SpannSearchParameters()));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(301)]
    public void KOutsideOneToNIsRejected(int k)
    {
        using var index = SpannTestData.BuildAndOpen(SpannTestData.RandomFloat(1, 300, 16), Small, out _);
        var e = Assert.Throws<RetrievalException>(() => index.SearchOne(new float[16], k, new SpannSearchParameters(), new int[Math.Max(k, 1)], new float[Math.Max(k, 1)]));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("k", e.Message);
    }

    [Fact]
    public void NonFiniteRowIsRejectedWithItsRowNumberOrSkippedAndCounted()
    {
        var data = SpannTestData.RandomFloat(3, 200, 8).ToFloat32();
        var raw = (byte[])data.RawArray.Clone();
        BitConverter.GetBytes(float.NaN).CopyTo(raw, (57 * 8 + 3) * 4);
        BitConverter.GetBytes(float.PositiveInfinity).CopyTo(raw, (140 * 8) * 4);
        var bad = new DenseVectors(ElementType.Float32, 200, 8, raw);
        var dir = Path.Combine(TestData.TempDirectory(), "x");
        var e = Assert.Throws<DataFormatException>(() => SpannBuilder.Build(bad, dir, Small));
        Assert.Equal(57, e.Row);
        Assert.Contains("NaN or infinity", e.Message);
        Assert.Contains("--skip-non-finite", e.Message);

        SpannBuilder.Build(bad, dir, Small with { SkipNonFinite = true });
        using var index = SpannIndex.Open(dir);
        Assert.Equal(2, index.Manifest.SkippedRows);
        var ids = new int[200];
        index.SearchOne(data.Float32Row(0), 198, new SpannSearchParameters { Heads = index.Heads.Count, PruneEpsilon = -1, SearchBeamWidth = index.Heads.Count }, ids, new float[200]);
        Assert.DoesNotContain(57, ids[..198]);
        Assert.DoesNotContain(140, ids[..198]);
        Assert.Equal(198, ids[..198].ToArray().Distinct().Count());

        var nanQuery = new float[8];
        nanQuery[2] = float.NaN;
        Assert.Throws<RetrievalException>(() => index.SearchOne(nanQuery, 3, new SpannSearchParameters(), new int[3], new float[3]));
    }

    [Fact]
    public void EmptyInputIsRejected()
    {
        var empty = new DenseVectors(ElementType.Float32, 0, 8, []);
        var e = Assert.Throws<RetrievalException>(() => SpannBuilder.Build(empty, Path.Combine(TestData.TempDirectory(), "e"), Small));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("no vectors", e.Message);
        var path = Path.Combine(TestData.TempDirectory(), "empty.fvecs");
        File.WriteAllBytes(path, []);
        Assert.ThrowsAny<RetrievalException>(() => SpannBuilder.Build(path, Path.Combine(TestData.TempDirectory(), "f"), Small));
    }

    [Fact]
    public void InvalidOptionsNameEachProblem()
    {
        var e = Assert.Throws<RetrievalException>(() => new SpannBuildOptions { HeadRatio = 0, ReplicaCount = 0, PostingPages = 0 }.Validate());
        Assert.Contains("head ratio", e.Message);
        Assert.Contains("replica count", e.Message);
        Assert.Contains("posting pages", e.Message);
        Assert.Throws<RetrievalException>(() => new SpannSearchParameters { Heads = 0 }.Validate());
        Assert.Throws<RetrievalException>(() => new SpannSearchParameters { PruneEpsilon = double.NaN }.Validate());
        Assert.Throws<RetrievalException>(() => SpannStorageExtensions.ParseStorage("f64"));
    }

    [Fact]
    public void PageBudgetTooSmallForTheInputIsAClearError()
    {
        // 30 heads x a 1-page posting of 128-d float32 rows (about 7 rows) cannot hold 300 vectors.
        var e = Assert.Throws<RetrievalException>(() =>
            SpannBuilder.Build(SpannTestData.RandomFloat(4, 300, 128), Path.Combine(TestData.TempDirectory(), "p"), Small with { PostingPages = 1 }));
        Assert.Contains("--posting-pages", e.Message);
    }
}
