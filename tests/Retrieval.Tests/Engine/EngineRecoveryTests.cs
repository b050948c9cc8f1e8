using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.Engine;

public sealed class EngineRecoveryTests
{
    private static async Task<Dictionary<long, float[]>> WriteSome(RetrievalEngine engine, Random random, int count, int start)
    {
        var expected = new Dictionary<long, float[]>();
        var batch = new List<EngineRecord>();
        for (int i = 0; i < count; i++)
        {
            var v = RandomVector(random, 8);
            batch.Add(new EngineRecord(RecordKey.Of(start + i), v, Payload: Json($"{{\"i\":{start + i}}}")));
            expected[start + i] = v;
        }
        await engine.UpsertAsync("c", batch);
        return expected;
    }

    private static void AssertHolds(RetrievalEngine engine, Dictionary<long, float[]> expected)
    {
        Assert.Equal(expected.Count, engine.Describe("c").RecordCount);
        foreach (var (id, v) in expected)
        {
            var record = engine.Get("c", RecordKey.Of(id), withVectors: true);
            Assert.NotNull(record);
            Assert.Equal(v, record.Dense!);
            Assert.Equal($"{{\"i\":{id}}}", System.Text.Encoding.UTF8.GetString(record.Payload!));
            var hit = engine.Search("c", new SearchRequest { Vector = v, K = 1 });
            Assert.Equal(id, hit[0].Key.Integer);
        }
    }

    /// <summary>No checkpoint at all: reopening rebuilds everything from the write-ahead log alone.</summary>
    [Fact]
    public async Task RecoversFromTheLogWithoutCheckpoint()
    {
        var dir = TestData.TempDirectory();
        var random = new Random(3);
        Dictionary<long, float[]> expected;
        await using (var engine = RetrievalEngine.Open(dir, Small(sealRows: 50, checkpointOnClose: false)))
        {
            await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(8, Metric.L2)));
            expected = await WriteSome(engine, random, 120, 0);
            await engine.DeleteAsync("c", [RecordKey.Of(5), RecordKey.Of(77)]);
            expected.Remove(5);
            expected.Remove(77);
        }
        Assert.False(File.Exists(Path.Combine(dir, "engine.json")));
        await using (var reopened = RetrievalEngine.Open(dir, Small(sealRows: 50, checkpointOnClose: false)))
        {
            Assert.Equal(3, reopened.ReplayedEntries);
            AssertHolds(reopened, expected);
        }
    }

    /// <summary>Checkpoint, more writes after it, no checkpoint on close: the store checkpoint plus the log tail.</summary>
    [Fact]
    public async Task RecoversCheckpointPlusLogTail()
    {
        var dir = TestData.TempDirectory();
        var random = new Random(4);
        Dictionary<long, float[]> expected;
        await using (var engine = RetrievalEngine.Open(dir, Small(checkpointOnClose: false)))
        {
            await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(8, Metric.L2)));
            await engine.CreateCollectionAsync(new CollectionSchema("gone", KeyKind.Integer, new DenseFieldSchema(8, Metric.L2)));
            expected = await WriteSome(engine, random, 80, 0);
            await engine.UpsertAsync("gone", [new EngineRecord(RecordKey.Of(1), RandomVector(random, 8))]);
            await engine.CheckpointAsync();
            foreach (var (k, v) in await WriteSome(engine, random, 30, 1000)) expected[k] = v;
            await engine.DropCollectionAsync("gone");
            await engine.DeleteAsync("c", [RecordKey.Of(1)]);
            expected.Remove(1);
        }
        await using (var reopened = RetrievalEngine.Open(dir, Small(checkpointOnClose: true)))
        {
            Assert.Equal(3, reopened.ReplayedEntries);
            AssertHolds(reopened, expected);
            Assert.Single(reopened.ListCollections());
            // A new collection of the dropped name starts empty (its old records were discarded by incarnation id).
            await reopened.CreateCollectionAsync(new CollectionSchema("gone", KeyKind.Integer, new DenseFieldSchema(8, Metric.L2)));
            Assert.Equal(0, reopened.Describe("gone").RecordCount);
        }
        await using (var third = RetrievalEngine.Open(dir, Small()))
        {
            Assert.Equal(0, third.ReplayedEntries);
            AssertHolds(third, expected);
            Assert.Equal(0, third.Describe("gone").RecordCount);
        }
    }

    /// <summary>A log cut short below its commit point (lost acknowledged writes) is reported, naming the log, not silently read.</summary>
    [Fact]
    public async Task TruncatedLogTailIsReportedAsCorrupt()
    {
        var dir = TestData.TempDirectory();
        await using (var engine = RetrievalEngine.Open(dir, Small(checkpointOnClose: false)))
        {
            await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(8, Metric.L2)));
            await WriteSome(engine, new Random(5), 200, 0);
            await WriteSome(engine, new Random(6), 200, 200);
        }
        var segment = Directory.GetFiles(Path.Combine(dir, "log")).Single(f => Path.GetFileName(f).StartsWith("wal", StringComparison.Ordinal));
        long length = new FileInfo(segment).Length;
        using (var file = new FileStream(segment, FileMode.Open, FileAccess.Write)) file.SetLength(length / 2);
        var e = Assert.Throws<RetrievalException>(() => { RetrievalEngine.Open(dir, Small()).Dispose(); });
        Assert.Equal(ErrorKind.Corrupt, e.Kind);
        Assert.Contains("write-ahead log", e.Message);
        Assert.Contains(Path.Combine(dir, "log", "wal"), e.Message);
    }

    /// <summary>Entries appended but never committed (a crash before the commit) are not applied on reopen.</summary>
    [Fact]
    public async Task UncommittedTailIsNotApplied()
    {
        var dir = TestData.TempDirectory();
        await using (var engine = RetrievalEngine.Open(dir, Small(checkpointOnClose: false)))
        {
            await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(8, Metric.L2)));
            await WriteSome(engine, new Random(7), 10, 0);
        }
        // Append an entry directly to the log without committing: what a crash between append and commit leaves.
        using (var log = new WriteAheadLog(Path.Combine(dir, "log"), Small()))
        {
            var record = RecordCodec.Encode(new RecordData(RecordKey.Of(999), new float[8], null, 0, null), 256);
            log.Append(new WalEntry { Op = WalOp.Upsert, CollectionId = 1, Records = [record] }.Encode());
        }
        await using var reopened = RetrievalEngine.Open(dir, Small());
        Assert.Equal(10, reopened.Describe("c").RecordCount);
        Assert.Null(reopened.Get("c", RecordKey.Of(999)));
    }

    /// <summary>
    /// A crash after a store checkpoint completed (FASTER then deletes the older one) but before the manifest and log
    /// truncation caught up: the engine recovers the newer checkpoint and replays the log from the older point, which
    /// repeats a drop and re-create of a collection name; the result must equal the acknowledged state.
    /// </summary>
    [Fact]
    public async Task CrashBetweenCheckpointAndManifestRecovers()
    {
        var dir = TestData.TempDirectory();
        var snapshot = TestData.TempDirectory();
        var schema = new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(8, Metric.L2));
        var random = new Random(9);
        await using (var engine = RetrievalEngine.Open(dir, Small(checkpointOnClose: false)))
        {
            await engine.CreateCollectionAsync(schema);
            await WriteSome(engine, random, 10, 0);
            await engine.CheckpointAsync();
            await WriteSome(engine, random, 10, 100);
            await engine.DropCollectionAsync("c");
            await engine.CreateCollectionAsync(schema);
            await WriteSome(engine, random, 5, 200);
            await engine.CreateCollectionAsync(schema with { Name = "b" });
            await engine.UpsertAsync("b", [new EngineRecord(RecordKey.Of(1), RandomVector(random, 8)), new EngineRecord(RecordKey.Of(2), RandomVector(random, 8))]);
            // What the disk holds just before the second checkpoint: the full log and the first manifest.
            CopyDirectory(Path.Combine(dir, "log"), Path.Combine(snapshot, "log"));
            File.Copy(Path.Combine(dir, "engine.json"), Path.Combine(snapshot, "engine.json"));
            await engine.CheckpointAsync();
        }
        Directory.Delete(Path.Combine(dir, "log"), recursive: true);
        CopyDirectory(Path.Combine(snapshot, "log"), Path.Combine(dir, "log"));
        File.Copy(Path.Combine(snapshot, "engine.json"), Path.Combine(dir, "engine.json"), overwrite: true);

        await using var reopened = RetrievalEngine.Open(dir, Small());
        Assert.True(reopened.ReplayedEntries > 0);
        Assert.Equal(["b", "c"], reopened.ListCollections().Select(c => c.Schema.Name).ToArray());
        Assert.Equal(5, reopened.Describe("c").RecordCount);
        Assert.NotNull(reopened.Get("c", RecordKey.Of(204)));
        Assert.Null(reopened.Get("c", RecordKey.Of(0)));
        Assert.Equal(2, reopened.Describe("b").RecordCount);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var sub in Directory.GetDirectories(from)) CopyDirectory(sub, Path.Combine(to, Path.GetFileName(sub)));
    }
}
