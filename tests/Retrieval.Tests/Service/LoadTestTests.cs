using Retrieval.Bench.Campaigns;

namespace Retrieval.Tests.Service;

/// <summary>The load test library against a real loopback server: bounded, error-free, memory sampled, and its in-process reference.</summary>
public sealed class LoadTestTests : IClassFixture<ServerFixture>
{
    private readonly ServerFixture _f;

    public LoadTestTests(ServerFixture fixture) => _f = fixture;

    [Fact]
    public async Task ShortMixedRunReportsThroughputLatencyAndMemory()
    {
        var options = new LoadTestOptions
        {
            Server = _f.Server.Address,
            Collection = "load",
            Clients = 4,
            Duration = TimeSpan.FromSeconds(3),
            SearchPercent = 80,
            Records = 300,
            Dimension = 8,
            K = 5,
            PreloadBatch = ServerFixture.TestLimits.MaxBatch,
            ServerMemory = () => Environment.WorkingSet,
        };
        var result = await LoadTest.RunAsync(options);

        Assert.Equal(0, result.Errors);
        Assert.True(result.Searches > 0 && result.Upserts > 0, $"{result.Searches} searches, {result.Upserts} upserts");
        Assert.InRange(result.Seconds, 2.9, 30);
        Assert.True(result.SearchLatency.P99Us >= result.SearchLatency.P50Us && result.SearchLatency.P50Us > 0);
        Assert.True(result.ServerMemoryStart > 0 && result.ServerMemoryEnd > 0 && result.ServerMemoryPeak >= result.ServerMemoryEnd);
        Assert.True(result.ServerMemoryEarly > 0, "no early memory sample");
        Assert.InRange(result.ServerMemoryEarlySeconds, 0.3, 3.5);
        Assert.False(double.IsNaN(result.ServerMemoryGrowth));

        var (qps, single) = await LoadTest.InProcessReferenceAsync(options, queries: 300);
        Assert.True(qps > 0);
        Assert.True(single.P50Us > 0);
    }

    [Fact]
    public async Task DedicatedUpsertClientsOnlyUpsertAndTheRestOnlySearch()
    {
        var options = new LoadTestOptions
        {
            Server = _f.Server.Address,
            Collection = "load-split",
            Clients = 3,
            UpsertClients = 1,
            SearchPercent = 0, // ignored with dedicated upsert clients
            Duration = TimeSpan.FromSeconds(2),
            Records = 100,
            Dimension = 8,
            PreloadBatch = ServerFixture.TestLimits.MaxBatch,
        };
        var result = await LoadTest.RunAsync(options);

        Assert.Equal(0, result.Errors);
        Assert.True(result.Searches > 0 && result.Upserts > 0, $"{result.Searches} searches, {result.Upserts} upserts");
        await Assert.ThrowsAsync<Retrieval.Index.Errors.RetrievalException>(() => LoadTest.RunAsync(options with { UpsertClients = 3 }));
    }

    [Fact]
    public async Task NonLoopbackServersAreRefused()
    {
        await Assert.ThrowsAsync<Retrieval.Index.Errors.RetrievalException>(() =>
            LoadTest.RunAsync(new LoadTestOptions { Server = new Uri("http://192.0.2.1:50051"), Duration = TimeSpan.FromSeconds(1) }));
    }
}
