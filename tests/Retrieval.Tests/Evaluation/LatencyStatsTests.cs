using Retrieval.Bench.Evaluation;
using Retrieval.Index.Errors;

namespace Retrieval.Tests.Evaluation;

public class LatencyStatsTests
{
    [Fact]
    public void NearestRankPercentilesOfOneToHundred()
    {
        // 1..100 shuffled: nearest rank ceil(p/100 * 100) = p, so p50 = 50, p95 = 95, p99 = 99.
        var values = Enumerable.Range(1, 100).Select(i => (double)i).OrderBy(v => (v * 37) % 101).ToArray();
        var copy = values.ToArray();
        var stats = LatencyStats.FromMicroseconds(values);
        Assert.Equal(new LatencyStats(100, 50.5, 50, 95, 99, 1, 100), stats);
        Assert.Equal(copy, values); // input untouched
    }

    [Fact]
    public void NearestRankOnTwentyValues()
    {
        // n = 20: p50 -> rank 10, p95 -> rank ceil(19.0) = 19,
        // p99 -> rank ceil(19.8) = 20.
        double[] values = Enumerable.Range(1, 20).Select(i => i * 10.0).Reverse().ToArray();
        var stats = LatencyStats.FromMicroseconds(values);
        Assert.Equal(100, stats.P50Us);
        Assert.Equal(190, stats.P95Us);
        Assert.Equal(200, stats.P99Us);
        Assert.Equal(105, stats.MeanUs);
        Assert.Equal(10, stats.MinUs);
        Assert.Equal(200, stats.MaxUs);
    }

    [Fact]
    public void SingleMeasurementIsEveryStatistic()
    {
        var stats = LatencyStats.FromMicroseconds([42.5]);
        Assert.Equal(new LatencyStats(1, 42.5, 42.5, 42.5, 42.5, 42.5, 42.5), stats);
        Assert.Equal(1.0, LatencyStats.NearestRank([1.0, 2.0], 0));
        Assert.Equal(2.0, LatencyStats.NearestRank([1.0, 2.0], 100));
        // 7/100.0 * 100 is 7.000000000000001 in doubles; the nearest rank is still 7, not 8.
        var hundred = Enumerable.Range(1, 100).Select(i => (double)i).ToArray();
        Assert.Equal(7.0, LatencyStats.NearestRank(hundred, 7));
    }

    [Fact]
    public void StopwatchTicksConvertToMicroseconds()
    {
        long ticksPerMs = System.Diagnostics.Stopwatch.Frequency / 1000;
        var stats = LatencyStats.FromStopwatchTicks([ticksPerMs, 3 * ticksPerMs]);
        Assert.Equal(2000, stats.MeanUs, 6);
        Assert.Equal(1000, stats.MinUs, 6);
    }

    [Fact]
    public void QueriesPerSecondFromWallTime()
    {
        Assert.Equal(2000, LatencyStats.QueriesPerSecond(1000, 0.5));
        Assert.Equal(400, LatencyStats.QueriesPerSecond(100, TimeSpan.FromMilliseconds(250)), 9);
        Assert.Equal(0, LatencyStats.QueriesPerSecond(0, 1.0));
    }

    [Fact]
    public void BadInputIsRejected()
    {
        AssertInvalid(() => LatencyStats.FromMicroseconds([]), "at least one");
        AssertInvalid(() => LatencyStats.FromMicroseconds([1, double.NaN]), "latency #1 is NaN");
        AssertInvalid(() => LatencyStats.FromMicroseconds([-3]), "latency #0 is -3");
        AssertInvalid(() => LatencyStats.FromMicroseconds([double.PositiveInfinity]), "finite");
        AssertInvalid(() => LatencyStats.QueriesPerSecond(10, 0.0), "wall time");
        AssertInvalid(() => LatencyStats.QueriesPerSecond(-1, 1.0), "query count");
        AssertInvalid(() => LatencyStats.NearestRank([1.0], 101), "percentile");
    }

    private static void AssertInvalid(Action action, string fragment)
    {
        var ex = Assert.Throws<RetrievalException>(action);
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains(fragment, ex.Message);
    }
}
