using Retrieval.Bench.Benchmarks.Kv;
using Retrieval.Index.Attention;
using Retrieval.Index.Errors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Attention;

/// <summary>The kv benchmark end to end on the kv-tiny fixture (320 cached keys, d = 8, 16 decode queries).</summary>
public class KvBenchmarkTests
{
    private static KvBenchmarkOptions TinyOptions => new()
    {
        Dataset = TestData.Fixture("kv-tiny"),
        Ks = [10, 5],
        SearchBeamWidths = [16, 320],
        IvfLists = 8,
        IvfProbes = [2, 8],
        HnswConnectivity = 8,
        HnswExpansionAdd = 32,
        HnswBeamWidths = [16, 320],
        KeyOnlyGraph = true,
        KeyOnlyBeamWidths = [320],
        WindowTokens = 32,
        AttentionQueries = 16,
        Appends = 64,
        AppendBeamWidth = 384,
        BatchHeads = [3],
        BatchCalls = 3,
        IndexOptions = new AttentionIndexOptions { TrainingNeighbors = 8, Connectivity = 8, TrainingSampleRate = 1, AppendFoldBatch = 16 },
    };

    [Fact]
    public void RunsEveryPeerAndReportsConsistentNumbers()
    {
        var report = KvBenchmark.Run(TinyOptions);
        Assert.Equal("kv-tiny", report.Dataset);
        Assert.Equal(320, report.Keys);
        Assert.Equal(16, report.Queries);
        // exact 2 k's; ivf 2x2; hnsw 2x2; keygraph 2x1; attention 2x2.
        Assert.Equal(2 + 4 + 4 + 2 + 4, report.Rows.Count);
        foreach (var row in report.Rows)
        {
            Assert.InRange(row.RecallAtK, 0, 1);
            Assert.True(row.MeanUs > 0 && row.P99Us >= 0, $"{row.Method} latency");
            Assert.True(double.IsNaN(row.KeysScoredFraction) || row.KeysScoredFraction is > 0 and <= 1.5, $"{row.Method} scored {row.KeysScoredFraction}");
        }
        var exact = report.Rows.Where(r => r.Method == "exact").ToList();
        Assert.All(exact, r => Assert.Equal(1.0, r.RecallAtK, 6));
        Assert.All(exact, r => Assert.Equal(1.0, r.KeysScoredFraction, 6));
        // A beam as wide as the cache searches exhaustively: recall 1, and the attend path (static part excluded by
        // the engine) gives the same merged attention as exact top-k filtered by the bench.
        var wide = report.Rows.Single(r => r.Method == "attention" && r.K == 10 && r.Settings.EndsWith("ef=320"));
        Assert.Equal(1.0, wide.RecallAtK, 6);
        var exact10 = exact.Single(r => r.K == 10);
        Assert.True(wide.AttentionRelError <= exact10.AttentionRelError + 1e-3,
            $"attend path error {wide.AttentionRelError} vs exact top-k {exact10.AttentionRelError}");
        Assert.InRange(wide.AttentionMass, 0, 1);

        // Both append modes against the same rebuild.
        Assert.Equal(new[] { "query-guided", "buffered" }, report.Appends.Select(a => a.Mode).ToArray());
        foreach (var append in report.Appends)
        {
            Assert.Equal(64, append.Appends);
            Assert.Equal(1.0, append.RebuiltRecall, 6);
            Assert.True(append.AppendedRecall >= 0.97, $"{append.Mode}: recall after appends {append.AppendedRecall}");
        }
        Assert.Equal(1.0, report.Appends.Single(a => a.Mode == "buffered").AppendedRecall, 6);
        Assert.True(report.Appends.Single(a => a.Mode == "query-guided").ObserveMeanUs > 0);
        var batch = Assert.Single(report.Batches);
        Assert.Equal(3, batch.Heads);
        Assert.True(batch.MeanUsPerCall > 0);
    }

    [Fact]
    public void MissingDatasetIsNotFound()
    {
        var ex = Assert.Throws<RetrievalException>(() => KvBenchmark.Run(TinyOptions with { Dataset = "no-such-kv-set" }));
        Assert.Equal(ErrorKind.NotFound, ex.Kind);
        Assert.Contains("no-such-kv-set", ex.Message);
    }
}
