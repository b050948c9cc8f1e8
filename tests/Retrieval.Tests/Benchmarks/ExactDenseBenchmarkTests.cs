using Retrieval.Bench.Benchmarks;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Exact;

namespace Retrieval.Tests.Benchmarks;

public class ExactDenseBenchmarkTests
{
    [Fact]
    public void MemoryBandwidthReportsBytesOverBestPass()
    {
        var result = MemoryBandwidth.Measure(threads: 2, bytes: 8 << 20, repetitions: 2);
        Assert.Equal(2, result.Threads);
        Assert.Equal(8 << 20, result.BufferBytes);
        Assert.True(result.BestSeconds > 0);
        Assert.Equal(result.BufferBytes / result.BestSeconds, result.BytesPerSecond, 1e-6 * result.BytesPerSecond);
        Assert.True(result.GigabytesPerSecond > 0.01, $"{result.GigabytesPerSecond} GB/s is implausible");

        var many = MemoryBandwidth.Measure([1, 3], 1 << 20, 1);
        Assert.Equal(new[] { 1, 3 }, new[] { many[0].Threads, many[1].Threads });
        Assert.True(many[1].BufferBytes <= 1 << 20 && many[1].BufferBytes % 64 == 0);
    }

    [Fact]
    public void MemoryBandwidthRejectsBadParameters()
    {
        Assert.Throws<RetrievalException>(() => MemoryBandwidth.Measure(1, bytes: 100, repetitions: 1));
        Assert.Throws<RetrievalException>(() => MemoryBandwidth.Measure(-1, bytes: 1 << 16, repetitions: 1));
        Assert.Throws<RetrievalException>(() => MemoryBandwidth.Measure(1, bytes: 1 << 16, repetitions: 0));
    }

    [Fact]
    public void ReportsTheThreeRunsWithConsistentDefinitions()
    {
        var rng = new Random(8);
        var vectors = ExactDenseIndexTests.RandomVectors(rng, ElementType.Float16, 3000, 48);
        var queries = ExactDenseIndexTests.RandomVectors(rng, ElementType.Float32, 150, 48);
        var options = new ExactDenseBenchmarkOptions
        {
            K = 5,
            Threads = 2,
            SingleQueryCount = 20,
            BatchedQueryCount = 130,
            BandwidthBufferBytes = 4 << 20,
            BandwidthRepetitions = 1,
        };
        var report = ExactDenseBenchmark.Run(vectors, queries, Metric.Cosine, options);

        Assert.Equal(("cosine", "float16", 3000, 48), (report.Metric, report.ElementType, report.Count, report.Dimension));
        Assert.Equal(3000L * 48 * 2, report.BaseBytes);
        Assert.Equal(3, report.Runs.Count);
        var single = report.Runs[0];
        Assert.Equal((ExactDenseRunResult.SingleQueryMode, 1, 20, 5, 20L), (single.Mode, single.Threads, single.Queries, single.K, single.Scans));
        Assert.NotNull(single.P99Us);
        Assert.True(single.P50Us <= single.P95Us && single.P95Us <= single.P99Us);
        Assert.True(single.CpuSeconds > 0);
        Assert.True(single.MinUs <= single.P50Us);
        Assert.Equal(single.BaseBytes / (single.MinUs!.Value * 1e-6) / single.BandwidthBytesPerSecond, single.BestScanFractionOfBandwidth!.Value, 1e-9);
        Assert.Equal(single.EffectiveBytesPerSecond, single.PhysicalBytesPerSecond);
        Assert.Equal(single.Queries * (double)single.BaseBytes / single.WallSeconds, single.EffectiveBytesPerSecond, 1e-6 * single.EffectiveBytesPerSecond);
        Assert.Equal(report.SingleThreadBandwidth.BytesPerSecond, single.BandwidthBytesPerSecond);
        Assert.Equal(single.EffectiveBytesPerSecond / single.BandwidthBytesPerSecond, single.EffectiveFractionOfBandwidth, 1e-9);

        var oneThread = report.Runs[1];
        var allThreads = report.Runs[2];
        Assert.Equal((ExactDenseRunResult.BatchedMode, 1, 130), (oneThread.Mode, oneThread.Threads, oneThread.Queries));
        Assert.Equal(2, allThreads.Threads);
        Assert.Null(oneThread.P50Us);
        Assert.Null(oneThread.BestScanFractionOfBandwidth);
        long tiles = (130 + ExactDenseIndex.QueryTileSize - 1) / ExactDenseIndex.QueryTileSize;
        Assert.Equal(tiles, oneThread.Scans);
        Assert.Equal(oneThread.EffectiveBytesPerSecond * tiles / 130, oneThread.PhysicalBytesPerSecond, 1e-6 * oneThread.PhysicalBytesPerSecond);
        Assert.Equal(report.AllThreadsBandwidth.BytesPerSecond, allThreads.BandwidthBytesPerSecond);
        Assert.Equal(130 / allThreads.WallSeconds, allThreads.Qps, 1e-6 * allThreads.Qps);
    }

    [Fact]
    public void PercentilesUseNearestRank()
    {
        var sorted = Enumerable.Range(1, 100).Select(i => (double)i).ToArray();
        Assert.Equal(50, ExactDenseBenchmark.Percentile(sorted, 0.50));
        Assert.Equal(95, ExactDenseBenchmark.Percentile(sorted, 0.95));
        Assert.Equal(99, ExactDenseBenchmark.Percentile(sorted, 0.99));
        Assert.Equal(7, ExactDenseBenchmark.Percentile([7.0], 0.99));
    }
}
