using Retrieval.Index.Errors;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.Engine;

/// <summary>
/// The engine as a memory/SSD hybrid: sealed rows give up their in-heap vectors once SPANN (postings on disk) serves
/// them, the record store keeps the one durable copy that compaction and Get read back, and the memory cap refuses
/// writes instead of letting the process grow.
/// </summary>
public sealed class EngineMemoryTests
{
    private const int Dim = 128;

    private static CollectionSchema SpannSchema(string name) => new(name, KeyKind.Integer,
        new DenseFieldSchema(Dim, Metric.L2) { Index = new DenseIndexOptions { MinRows = 100, Search = new SpannSearchParameters { Heads = 32 } } });

    [Fact]
    public void DefaultsKeepPostingsOnDiskInFloat16()
    {
        var defaults = DenseIndexOptions.Default;
        Assert.False(defaults.InMemory);
        Assert.Equal(SpannStorage.Float16, defaults.Build.Storage);
    }

    /// <summary>
    /// tiny-dense (2,000 SIFT rows) sealed into SPANN segments, 30% deleted, compacted (the merged rows' vectors come
    /// from the record store, not from the old segments' heap) and reopened from the log without a checkpoint: Get
    /// returns every live row's exact float32 vector throughout, and search finds each live row as its own top hit.
    /// </summary>
    [Fact]
    public async Task VectorsComeBackFromTheStoreAfterIndexingCompactionAndReopen()
    {
        var values = EngineSegmentIndexTests.TinyDense(out int count, Dim);
        var dir = TestData.TempDirectory();
        var options = Small(sealRows: 500, checkpointOnClose: false) with { AutoCompact = false, InPlaceUpdates = false };
        var deleted = new HashSet<long>();
        var random = new Random(5);
        while (deleted.Count < 600) deleted.Add(random.Next(count));
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.CreateCollectionAsync(SpannSchema("c"));
            for (int start = 0; start < count; start += 250)
            {
                var batch = new List<EngineRecord>();
                for (int r = start; r < start + 250; r++) batch.Add(new EngineRecord(RecordKey.Of(r), values.AsSpan(r * Dim, Dim).ToArray()));
                await engine.UpsertAsync("c", batch);
            }
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(4, engine.Describe("c").IndexedSegments);
            CheckVectors(engine, values, count, []);

            await engine.DeleteAsync("c", deleted.Select(d => RecordKey.Of(d)).ToList());
            await engine.CompactAsync("c");
            await engine.WaitForBackgroundWorkAsync();
            var info = engine.Describe("c");
            Assert.Equal(1, info.IndexedSegments);
            Assert.Equal(0, info.Tombstones);
            Assert.Equal(count - deleted.Count, info.RecordCount);
            CheckVectors(engine, values, count, deleted);
            CheckSelfHits(engine, values, count, deleted);
        }
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(count - deleted.Count, engine.Describe("c").RecordCount);
            CheckVectors(engine, values, count, deleted);
            CheckSelfHits(engine, values, count, deleted);
        }
    }

    /// <summary>
    /// In-place growth (SPFresh, <see cref="EngineOptions.InPlaceUpdates"/>): the first sealed segment's SPANN index becomes the base and
    /// later sealed segments are absorbed into it (a backlog as large as the base is rebuilt with it instead, so a
    /// bulk load doubles the base rather than growing it 10x by splits); the collection settles at one indexed segment; deletes and re-inserts go through the same path, and a restart without a checkpoint (log replay
    /// over the base's last index checkpoint) answers the same.
    /// </summary>
    [Fact]
    public async Task SealedSegmentsAreAbsorbedIntoOneBaseWithoutRebuilds()
    {
        var values = EngineSegmentIndexTests.TinyDense(out int count, Dim);
        var dir = TestData.TempDirectory();
        var options = Small(sealRows: 400) with { InPlaceUpdates = true };
        var deleted = new HashSet<long>();
        var random = new Random(9);
        while (deleted.Count < 300) deleted.Add(random.Next(count));
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.CreateCollectionAsync(SpannSchema("c"));
            for (int start = 0; start < count; start += 200)
            {
                var batch = new List<EngineRecord>();
                for (int r = start; r < start + 200; r++) batch.Add(new EngineRecord(RecordKey.Of(r), values.AsSpan(r * Dim, Dim).ToArray()));
                await engine.UpsertAsync("c", batch);
                await engine.WaitForBackgroundWorkAsync();
            }
            var info = engine.Describe("c");
            Assert.Equal(1, info.IndexedSegments);
            Assert.Equal(2, info.SegmentCount); // the base and the (empty) mutable segment
            Assert.Equal(0, info.BackgroundJobs);
            // The first base (400 rows), then one rebuild when 400 rows waited (a bulk load doubles the base); the
            // three later sealed segments were absorbed in place.
            Assert.Equal(2, engine.SegmentIndexBuilds);
            CheckSelfHits(engine, values, count, []);

            await engine.DeleteAsync("c", deleted.Select(d => RecordKey.Of(d)).ToList());
            // Re-insert half of the deleted rows under their old keys: they are absorbed like any new row.
            var back = deleted.Take(150).ToList();
            await engine.UpsertAsync("c", back.Select(r => new EngineRecord(RecordKey.Of(r), values.AsSpan((int)r * Dim, Dim).ToArray())).ToList());
            foreach (long r in back) deleted.Remove(r);
            // Enough new rows to seal once more, so the re-inserted ones are absorbed too.
            var filler = new List<EngineRecord>();
            for (int r = 0; r < 400; r++) filler.Add(new EngineRecord(RecordKey.Of(100_000 + r), values.AsSpan(r * Dim, Dim).ToArray()));
            await engine.UpsertAsync("c", filler);
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(1, engine.Describe("c").IndexedSegments);
            Assert.Equal(2, engine.SegmentIndexBuilds);
            CheckSelfHits(engine, values, count, deleted);
            CheckVectors(engine, values, count, deleted);
        }
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(count - deleted.Count + 400, engine.Describe("c").RecordCount);
            Assert.Equal(0, engine.SegmentIndexBuilds);
            CheckSelfHits(engine, values, count, deleted);
            CheckVectors(engine, values, count, deleted);
        }
    }

    private static void CheckVectors(RetrievalEngine engine, float[] values, int count, HashSet<long> deleted)
    {
        for (int r = 0; r < count; r += 7)
        {
            var record = engine.Get("c", RecordKey.Of(r), withVectors: true);
            if (deleted.Contains(r))
            {
                Assert.Null(record);
                continue;
            }
            Assert.NotNull(record);
            Assert.Equal(values.AsSpan(r * Dim, Dim).ToArray(), record!.Dense);
        }
    }

    private static void CheckSelfHits(RetrievalEngine engine, float[] values, int count, HashSet<long> deleted)
    {
        int queries = 0, self = 0;
        for (int r = 1; r < count; r += 37)
        {
            if (deleted.Contains(r)) continue;
            var hits = engine.Search("c", new SearchRequest { Vector = values.AsSpan(r * Dim, Dim).ToArray(), K = 10 });
            Assert.DoesNotContain(hits, h => deleted.Contains(h.Key.Integer));
            queries++;
            // tiny-dense holds a few exact duplicates: a tie at distance 0 may put the twin first.
            if (hits.Count > 0 && (hits[0].Key.Integer == r || hits[0].Score == 0)) self++;
        }
        Assert.True(self >= 0.95 * queries, $"{self} of {queries} live rows found themselves first");
    }

    /// <summary>
    /// Past 90% of the cap, writes are refused with ResourceExhausted naming the memory limit, while searches go
    /// on. A 256 MiB ballast in this process makes its resident memory exceed the 128 MiB cap for certain.
    /// </summary>
    [Fact]
    public async Task WritesAreRefusedOverTheMemoryCapAndSearchesGoOn()
    {
        var messages = new List<string>();
        var options = Small() with { MemoryLimitBytes = EngineOptions.MinMemoryLimitBytes, Log = m => { lock (messages) messages.Add(m); } };
        var ballast = new byte[256 << 20];
        for (int i = 0; i < ballast.Length; i += 4096) ballast[i] = 1;
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), options);
        await engine.CreateCollectionAsync(SpannSchema("c"));
        var e = await Assert.ThrowsAsync<RetrievalException>(() =>
            engine.UpsertAsync("c", [new EngineRecord(RecordKey.Of(1), new float[Dim])]));
        Assert.Equal(ErrorKind.ResourceExhausted, e.Kind);
        Assert.Contains("memory limit reached", e.Message);
        Assert.Contains("128 MiB cap", e.Message);
        Assert.Empty(engine.Search("c", new SearchRequest { Vector = new float[Dim], K = 5 }));
        Assert.Equal(1, engine.MemoryRefusals);
        lock (messages) Assert.Contains(messages, m => m.Contains("write refused") && m.Contains("'c'"));
        GC.KeepAlive(ballast);
    }

    [Fact]
    public void MemoryLimitSizesTheBuffersAndRejectsTinyCaps()
    {
        var capped = EngineOptions.Default.WithMemoryLimit(256L << 20);
        Assert.Equal(256L << 20, capped.MemoryLimitBytes);
        Assert.True(capped.StoreMemoryBits <= 23, $"store memory 2^{capped.StoreMemoryBits}");
        Assert.True(capped.LogMemoryBits <= 22 || capped.LogMemoryBits == capped.LogPageBits + 1);
        capped.Validate();
        Assert.Equal(EngineOptions.Default.StoreMemoryBits, EngineOptions.Default.WithMemoryLimit(64L << 30).StoreMemoryBits);
        var e = Assert.Throws<RetrievalException>(() => (EngineOptions.Default with { MemoryLimitBytes = 1 << 20 }).Validate());
        Assert.Contains("MemoryLimitBytes", e.Message);
    }
}
