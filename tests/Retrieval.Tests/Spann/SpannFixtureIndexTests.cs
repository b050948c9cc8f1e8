using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

/// <summary>
/// Committed index directories (datasets/fixtures/spann/v&lt;format version&gt;/tiny-f16, built from the first 150 rows
/// of tiny-dense with `retrieval build spann --input datasets/fixtures/tiny-dense/base.u8bin --max-rows 150
/// --head-ratio 0.1 --posting-pages 1 --storage f16`): a change to the reader that breaks indexes already on disk fails here.
/// </summary>
public class SpannFixtureIndexTests
{
    private const int Rows = 150;

    public static TheoryData<int> Versions()
    {
        var data = new TheoryData<int>();
        for (int v = SpannFormat.OldestReadableVersion; v <= SpannFormat.CurrentVersion; v++) data.Add(v);
        return data;
    }

    [Fact]
    public void EveryReadableVersionHasAFixture()
    {
        // Bumping the format version means committing a fixture of the new version (and keeping the old ones readable).
        for (int v = SpannFormat.OldestReadableVersion; v <= SpannFormat.CurrentVersion; v++)
            Assert.True(File.Exists(TestData.Fixture("spann", $"v{v}", "tiny-f16", SpannFormat.ManifestFile)), $"no fixture index for format version {v}");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void FixtureOpensAndEqualsExactSearch(int version)
    {
        using var index = SpannIndex.Open(TestData.Fixture("spann", $"v{version}", "tiny-f16"));
        Assert.Equal(version, index.Manifest.Version);
        Assert.Equal(Rows, index.Count);
        var vectors = SpannTestData.TinyBase().Slice(0, Rows);
        var queries = SpannTestData.TinyQueries();
        const int k = 10;
        var exact = SpannTestData.Exact(vectors, queries, Metric.L2, k);
        var all = new SpannSearchParameters { Heads = index.Heads.Count, PruneEpsilon = -1 };
        foreach (var io in new[] { PostingIoMode.Buffered, PostingIoMode.Memory, PostingIoMode.Direct })
        {
            // Every posting read: exactly exact search's answer (float16 is exact for uint8 values).
            var found = index.Search(queries, k, all with { Io = io }, threads: 1);
            Assert.Equal(exact.Ids, found.Ids);
            Assert.Equal(exact.Scores, found.Scores);
        }
        var pruned = index.Search(queries, k, new SpannSearchParameters { Heads = 4, Io = PostingIoMode.Memory }, threads: 1);
        Assert.True(SpannTestData.Recall(pruned, exact, k) >= 0.7, $"recall at M 4: {SpannTestData.Recall(pruned, exact, k)}");
    }
}
