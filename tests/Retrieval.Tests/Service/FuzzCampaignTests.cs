using Grpc.Core;
using Retrieval.Bench.Campaigns;

namespace Retrieval.Tests.Service;

/// <summary>A seeded fuzz campaign against a real loopback server with small limits: every reply a proper status, the server healthy after.</summary>
public sealed class FuzzCampaignTests : IClassFixture<ServerFixture>
{
    private readonly ServerFixture _f;

    public FuzzCampaignTests(ServerFixture fixture) => _f = fixture;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task SeededCampaignGetsProperStatusesAndTheServerStillWorks(int seed)
    {
        var result = await FuzzCampaign.RunAsync(new FuzzOptions
        {
            Server = _f.Server.Address,
            Iterations = 1500,
            Seed = seed,
            MaxDimension = ServerFixture.TestLimits.MaxDimension,
            MaxBatch = ServerFixture.TestLimits.MaxBatch,
        });

        Assert.True(result.Failures == 0, string.Join("\n", result.FailureSamples));
        Assert.True(result.HealthyAfter);
        Assert.True(result.WorksAfter);
        Assert.True(result.Calls >= 1500);
        // The campaign reaches the interesting refusals, not only one kind of error.
        foreach (var status in new[] { StatusCode.OK, StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.ResourceExhausted })
            Assert.True(result.Statuses.GetValueOrDefault(status) > 0, $"no {status} among {string.Join(", ", result.Statuses)}");
    }

    [Fact]
    public async Task CampaignRefusesNonLoopbackTargets()
    {
        await Assert.ThrowsAsync<Retrieval.Index.Errors.RetrievalException>(() =>
            FuzzCampaign.RunAsync(new FuzzOptions { Server = new Uri("http://10.1.2.3:50051"), Iterations = 1 }));
    }
}
