using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.Engine;

/// <summary><see cref="CollectionInfo.BackgroundJobs"/>: index builds and compactions queued or running, 0 once settled.</summary>
public sealed class EngineBackgroundJobsTests
{
    /// <summary>A queued job counts until it (and the finished callback) returns; a requested compaction counts too.</summary>
    [Fact]
    public async Task QueuedJobCountsUntilItFinishes()
    {
        var schema = new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(4, Metric.L2));
        var collection = new Collection(1, schema, SegmentIndexFactory.ExactOnly, 100, null);
        Assert.Equal(0, collection.Describe().BackgroundJobs);
        using var release = new ManualResetEventSlim();
        using var callbackEntered = new ManualResetEventSlim();
        collection.BackgroundWorkFinished = _ =>
        {
            callbackEntered.Set();
            release.Wait(TimeSpan.FromSeconds(10));
        };
        collection.StartBackground(() => release.Wait(TimeSpan.FromSeconds(10)));
        collection.StartBackground(() => { });
        Assert.True(collection.Describe().BackgroundJobs >= 1);
        Assert.True(callbackEntered.Wait(TimeSpan.FromSeconds(10)));
        // The second job's work is done, but it counts until its callback returns.
        Assert.Equal(2, collection.Describe().BackgroundJobs);
        release.Set();
        await collection.WaitForBackgroundAsync();
        Assert.Equal(0, collection.Describe().BackgroundJobs);

        collection.BackgroundWorkFinished = null;
        var compaction = collection.CompactRequestedAsync(CancellationToken.None);
        Assert.Equal(-1, await compaction);
        Assert.Equal(0, collection.Describe().BackgroundJobs);
    }

    /// <summary>
    /// Upserts past the seal size queue SPANN builds; polling Describe (no wait call) sees background_jobs reach 0,
    /// and at that point every sealed segment is indexed; it stays 0 while nothing is written.
    /// </summary>
    [Fact]
    public async Task BackgroundJobsReachZeroWithSegmentsIndexed()
    {
        const int dim = 128;
        var values = EngineSegmentIndexTests.TinyDense(out int count);
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small(sealRows: 500) with { AutoCompact = false });
        await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer,
            new DenseFieldSchema(dim, Metric.L2) { Index = new DenseIndexOptions { MinRows = 100, Search = new SpannSearchParameters { Heads = 32 } } }));
        int maxSeen = 0;
        for (int start = 0; start < count; start += 250)
        {
            var batch = new List<EngineRecord>();
            for (int r = start; r < start + 250; r++) batch.Add(new EngineRecord(RecordKey.Of(r), values.AsSpan(r * dim, dim).ToArray()));
            await engine.UpsertAsync("c", batch);
            maxSeen = Math.Max(maxSeen, engine.Describe("c").BackgroundJobs);
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        CollectionInfo info;
        while ((info = engine.Describe("c")).BackgroundJobs != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"still {info.BackgroundJobs} background jobs after 60 s");
            maxSeen = Math.Max(maxSeen, info.BackgroundJobs);
            await Task.Delay(20);
        }
        Assert.Equal(count / 500, info.IndexedSegments);
        Assert.Equal(count, info.RecordCount);
        for (int i = 0; i < 5; i++)
        {
            await Task.Delay(20);
            Assert.Equal(0, engine.Describe("c").BackgroundJobs);
        }
        Assert.InRange(maxSeen, 0, count / 500);
    }
}
