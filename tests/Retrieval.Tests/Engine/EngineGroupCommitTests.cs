using FASTER.core;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.Engine;

/// <summary>The write path under concurrency: group commit of the write-ahead log and durability of every acknowledged write.</summary>
public sealed class EngineGroupCommitTests
{
    /// <summary>
    /// Many concurrent single-record upserts (with searches running beside them): every acknowledged one is in the
    /// files on disk at that moment, with no checkpoint and no commit on close (the data directory is copied while
    /// the engine is still open, as a crash would leave it), and they shared log commits.
    /// </summary>
    [Fact]
    public async Task ConcurrentUpsertsAreDurableWithoutCheckpointAndShareCommits()
    {
        var dir = TestData.TempDirectory();
        var crashed = TestData.TempDirectory();
        const int writers = 32, perWriter = 20;
        var expected = new Dictionary<long, float[]>();
        await using (var engine = RetrievalEngine.Open(dir, Small(sealRows: 200, checkpointOnClose: false)))
        {
            await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(8, Metric.L2)));
            var random = new Random(11);
            var vectors = new float[writers * perWriter][];
            for (int i = 0; i < vectors.Length; i++) vectors[i] = RandomVector(random, 8);
            long commitsBefore = engine.LogCommits;
            using var stop = new CancellationTokenSource();
            var searcher = Task.Run(() =>
            {
                var q = new SearchRequest { Vector = vectors[0], K = 5 };
                while (!stop.IsCancellationRequested) engine.Search("c", q);
            });
            var tasks = new Task[writers];
            for (int w = 0; w < writers; w++)
            {
                int writer = w;
                tasks[w] = Task.Run(async () =>
                {
                    for (int j = 0; j < perWriter; j++)
                    {
                        int id = writer * perWriter + j;
                        await engine.UpsertAsync("c", [new EngineRecord(RecordKey.Of(id), vectors[id], Payload: Json($"{{\"i\":{id}}}"))]);
                        // Acknowledged means applied too: the writer reads its own write at once.
                        Assert.NotNull(engine.Get("c", RecordKey.Of(id)));
                    }
                });
            }
            await Task.WhenAll(tasks);
            await stop.CancelAsync();
            await searcher;
            for (int i = 0; i < vectors.Length; i++) expected[i] = vectors[i];
            long commits = engine.LogCommits - commitsBefore;
            Assert.InRange(commits, 1, writers * perWriter - 1);

            // The disk as a crash right now would leave it: no checkpoint, no further commit.
            CopyDirectory(dir, crashed);
        }

        await using var reopened = RetrievalEngine.Open(crashed, Small(sealRows: 200));
        Assert.Equal(expected.Count, reopened.Describe("c").RecordCount);
        foreach (var (id, v) in expected)
        {
            var record = reopened.Get("c", RecordKey.Of(id), withVectors: true);
            Assert.NotNull(record);
            Assert.Equal(v, record.Dense!);
            Assert.Equal($"{{\"i\":{id}}}", System.Text.Encoding.UTF8.GetString(record.Payload!));
        }
    }

    /// <summary>Writers that wait for their commits together share them: far fewer commits than writers, all of them covered.</summary>
    [Fact]
    public async Task ConcurrentCommitWaitsShareCommits()
    {
        var dir = TestData.TempDirectory();
        using var log = new WriteAheadLog(dir, Small());
        const int writers = 200;
        var addresses = new long[writers];
        for (int i = 0; i < writers; i++)
            addresses[i] = log.Append(new WalEntry { Op = WalOp.Delete, CollectionId = 1, Keys = [RecordKey.Of(i)] }.Encode());
        await Task.WhenAll(addresses.Select(a => Task.Run(() => log.WaitForCommitAsync(a))));
        Assert.True(log.CommittedUntil >= addresses[^1]);
        Assert.InRange(log.Commits, 1, writers / 2);
        // A wait for what is already committed issues no commit.
        long commits = log.Commits;
        await log.WaitForCommitAsync(addresses[0]);
        Assert.Equal(commits, log.Commits);
    }

    /// <summary>
    /// A log whose commit records are in FASTER's older form (one file per commit under log-commits) recovers from
    /// them; the first new commit replaces them, and the log reopens from its own commit file after that.
    /// </summary>
    [Fact]
    public async Task LogWithOlderCommitFilesRecoversAndMovesOn()
    {
        var dir = TestData.TempDirectory();
        var options = Small();
        var first = new WalEntry { Op = WalOp.Delete, CollectionId = 1, Keys = [RecordKey.Of(1)] }.Encode();
        var second = new WalEntry { Op = WalOp.Delete, CollectionId = 1, Keys = [RecordKey.Of(2)] }.Encode();
        using (var device = Devices.CreateLogDevice(Path.Combine(dir, "wal"), preallocateFile: false, deleteOnClose: false))
        using (var old = new FasterLog(new FasterLogSettings
        {
            LogDevice = device,
            PageSizeBits = options.LogPageBits,
            MemorySizeBits = options.LogMemoryBits,
            SegmentSizeBits = options.LogSegmentBits,
            LogCommitDir = Path.Combine(dir, "commits"),
            LogChecksum = LogChecksumType.PerEntry,
            TryRecoverLatest = true,
            AutoRefreshSafeTailAddress = false,
        }))
        {
            old.Enqueue(first);
            await old.CommitAsync();
        }
        Assert.True(Directory.Exists(Path.Combine(dir, "commits", "log-commits")));

        using (var log = new WriteAheadLog(dir, options))
        {
            Assert.Equal([first], log.ReadCommitted(0).Select(e => e.Entry).ToArray());
            await log.WaitForCommitAsync(log.Append(second));
        }
        Assert.False(Directory.Exists(Path.Combine(dir, "commits", "log-commits")));
        using (var log = new WriteAheadLog(dir, options))
            Assert.Equal([first, second], log.ReadCommitted(0).Select(e => e.Entry).ToArray());
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        foreach (var sub in Directory.GetDirectories(from)) CopyDirectory(sub, Path.Combine(to, Path.GetFileName(sub)));
    }
}
