using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

/// <summary>
/// SPFresh-style updates on SPANN (<see cref="UpdatableSpannIndex"/>): inserts, deletes, LIRE split/merge/reassign,
/// checkpoints and crash recovery, on the tiny-dense fixture (bigann uint8, 128 dimensions, L2, f16 postings) with a
/// 2-page posting limit (31 rows) so a thousand inserts split many postings.
/// </summary>
public class UpdatableSpannIndexTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly SpannBuildOptions Small = new() { Metric = Metric.L2, HeadRatio = 0.05, PostingPages = 2, Threads = 2 };

    private static readonly Lazy<DenseVectors> Base = new(SpannTestData.TinyBase);

    private static string Build(DenseVectors vectors, SpannBuildOptions? options = null)
    {
        var dir = Path.Combine(TestData.TempDirectory(), "spann");
        SpannBuilder.Build(vectors, dir, options ?? Small);
        return dir;
    }

    /// <summary>The ids whose current version sits in at least one live posting, with the number of such postings.</summary>
    private static Dictionary<int, int> Reachable(UpdatableSpannIndex index)
    {
        var state = index.State;
        var view = state.View;
        var copies = new Dictionary<int, int>();
        for (int h = 0; h < view.Count; h++)
        {
            if (!view.IsLive(h)) continue;
            if (view.Posting(h) is not { } slot) continue;
            var p = state.Reader.Load(slot);
            for (int r = 0; r < p.Count; r++)
                if (state.Versions.IsCurrent(p.Ids[r], p.Versions[r])) copies[p.Ids[r]] = copies.GetValueOrDefault(p.Ids[r]) + 1;
        }
        return copies;
    }

    private static SpannSearchParameters Everything(UpdatableSpannIndex index) =>
        new() { Heads = index.State.View.Count, PruneEpsilon = -1, SearchBeamWidth = index.State.View.Count };

    private static float[] Row(DenseVectors v, int row)
    {
        var f = new float[v.Dimension];
        v.CopyRowTo(row, f);
        return f;
    }

    private static SearchResults SearchAll(UpdatableSpannIndex index, DenseVectors queries, int k, SpannSearchParameters p)
    {
        var results = new SearchResults(queries.Count, k);
        for (int q = 0; q < queries.Count; q++) index.SearchOne(queries.Float32Row(q), k, p, results.IdsOf(q), results.ScoresOf(q));
        return results;
    }

    private static void InsertRange(UpdatableSpannIndex index, DenseVectors source, int first, int count, int batch, int idOffset = 0)
    {
        for (int at = first; at < first + count; at += batch)
        {
            int n = Math.Min(batch, first + count - at);
            var ids = new int[n];
            for (int i = 0; i < n; i++) ids[i] = at + i + idOffset;
            index.Insert(ids, source.Slice(at, n));
        }
    }

    [Fact]
    public void InsertsSplitPostingsWithinTheirPageLimitAndLoseNoVector()
    {
        var data = Base.Value;
        var dir = Build(data.Slice(0, 1000));
        using var index = UpdatableSpannIndex.Open(dir);
        int headsBefore = index.HeadCount;
        Assert.Equal(1000, index.LiveCount);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        InsertRange(index, data, 1000, 1000, batch: 100);
        double foreground = clock.Elapsed.TotalSeconds;
        index.WaitForBackground();
        double total = clock.Elapsed.TotalSeconds;
        var stats = index.Statistics;
        output.WriteLine($"1000 inserts: {1000 / foreground:F0}/s foreground, {1000 / total:F0}/s with rebalancing done");
        output.WriteLine($"heads {headsBefore} -> {index.HeadCount}; {stats}");
        Assert.Equal(2000, index.LiveCount);
        Assert.Equal(1000, stats.Inserts);
        Assert.True(stats.Splits > 0, "a thousand inserts into 31-row postings must split some");
        Assert.True(index.HeadCount > headsBefore);
        Assert.True(stats.ReassignChecked > 0);
        Assert.Equal(0, stats.PendingJobs);

        // Page limits hold once the rebuilder is idle.
        var view = index.State.View;
        for (int h = 0; h < view.Count; h++)
            if (view.IsLive(h)) Assert.True(view.Posting(h)!.Count <= index.PostingCapacity, $"posting {h} holds {view.Posting(h)!.Count} rows, limit {index.PostingCapacity}");

        // No vector lost: every id sits in a live posting, and an exhaustive search for its own vector finds it.
        var reachable = Reachable(index);
        Assert.Equal(2000, reachable.Count);
        var p = Everything(index);
        var ids = new int[10];
        var scores = new float[10];
        for (int id = 0; id < 2000; id += 7)
        {
            index.SearchOne(Row(data, id), 10, p, ids, scores);
            Assert.Contains(id, ids);
            Assert.Equal(0f, scores[0]);
        }
    }

    [Fact]
    public void DeletedIdsAreNeverReturnedAndNearlyEmptyPostingsMerge()
    {
        var data = Base.Value;
        var dir = Build(data.Slice(0, 1000));
        using var index = UpdatableSpannIndex.Open(dir);
        int headsBefore = index.HeadCount;
        var deleted = new List<int>();
        for (int id = 0; id < 1000; id++) if (id % 5 != 0) deleted.Add(id);
        index.Delete(deleted.ToArray());
        index.Delete([6, 10]); // one already deleted, one live: only 10 counts
        Assert.Equal(199, index.LiveCount);
        Assert.Equal(801, index.Statistics.Deletes);
        var gone = new HashSet<int>(deleted) { 10 };

        var queries = SpannTestData.TinyQueries();
        var p = Everything(index);
        var results = SearchAll(index, queries, 10, p);
        foreach (int id in results.Ids) Assert.DoesNotContain(id, gone);
        index.WaitForBackground();
        // The exhaustive searches found postings at or under the merge threshold and queued their merges.
        var stats = index.Statistics;
        output.WriteLine($"heads {headsBefore} -> {index.HeadCount}; {stats}");
        Assert.True(stats.Merges > 0);
        Assert.True(index.HeadCount < headsBefore);
        var reachable = Reachable(index);
        Assert.Equal(199, reachable.Count);
        foreach (int id in reachable.Keys) Assert.DoesNotContain(id, gone);
        // After merges the answers are the exact ones over the survivors.
        results = SearchAll(index, queries, 10, Everything(index));
        foreach (int id in results.Ids) Assert.DoesNotContain(id, gone);
    }

    public static TheoryData<Metric> Metrics() => new() { Metric.L2, Metric.InnerProduct, Metric.Cosine };

    /// <summary>Probing every head without pruning reads every posting, so after updates the answer is exact search's over the live contents.</summary>
    [Theory]
    [MemberData(nameof(Metrics))]
    public void AllHeadsProbedAfterUpdatesEqualsExactSearchOfTheLiveContents(Metric metric)
    {
        var all = SpannTestData.RandomFloat(seed: 3, n: 2000, d: 24);
        var dir = Build(all.Slice(0, 1200), new SpannBuildOptions { Metric = metric, Storage = SpannStorage.Float32, HeadRatio = 0.05, PostingPages = 1, Threads = 2 });
        using var index = UpdatableSpannIndex.Open(dir);
        // 4096 / (96 + 4 + 1 [+ 4 cosine factor]) rows, less the 64-byte alignment of the vectors.
        Assert.Equal(metric == Metric.Cosine ? 38 : 40, index.PostingCapacity);
        InsertRange(index, all, 1200, 800, batch: 200);
        var victims = Enumerable.Range(0, 2000).Where(i => i % 3 == 0).ToArray();
        index.Delete(victims);
        index.WaitForBackground();
        Assert.True(index.Statistics.Splits > 0);
        var survivors = Enumerable.Range(0, 2000).Where(i => i % 3 != 0).ToArray();
        var rows = new float[survivors.Length * 24];
        for (int i = 0; i < survivors.Length; i++) all.CopyRowTo(survivors[i], rows.AsSpan(i * 24, 24));
        var queries = SpannTestData.RandomFloat(seed: 4, n: 30, d: 24);
        var exact = SpannTestData.Exact(DenseVectors.FromFloat32(rows, survivors.Length, 24), queries, metric, 10);
        var found = SearchAll(index, queries, 10, Everything(index));
        for (int i = 0; i < exact.Ids.Length; i++)
        {
            Assert.Equal(survivors[exact.Ids[i]], found.Ids[i]);
            Assert.True(MathF.Abs(exact.Scores[i] - found.Scores[i]) <= 1e-4f * Math.Max(1, MathF.Abs(exact.Scores[i])), $"score {i}: {found.Scores[i]} vs {exact.Scores[i]}");
        }
    }

    [Fact]
    public void LossyPostingStorageIsRefused()
    {
        var dir = Build(SpannTestData.RandomFloat(seed: 5, n: 300, d: 16), new SpannBuildOptions { Storage = SpannStorage.Float16, HeadRatio = 0.1 });
        var e = Assert.Throws<RetrievalException>(() => UpdatableSpannIndex.Open(dir));
        Assert.Equal(ErrorKind.Incompatible, e.Kind);
        Assert.Contains("f16", e.Message);
    }

    [Fact]
    public void VersionsAreMonotoneAndReinsertReplacesEveryCopy()
    {
        var data = Base.Value;
        var dir = Build(data.Slice(0, 1000));
        using var index = UpdatableSpannIndex.Open(dir);
        var versions = index.State.Versions;
        Assert.Equal(0, versions.Get(5));
        Assert.Equal(VersionMap.Deleted, versions.Get(123_456));

        index.Insert([5], data.Slice(1500, 1));                     // replace id 5 with another vector
        Assert.Equal(1, versions.Get(5));
        index.Delete([5]);
        Assert.Equal(VersionMap.Deleted | 1, versions.Get(5));      // the version survives the delete
        index.Insert([5, 123_456], data.Slice(1600, 2));            // back, and an id far past the build's count
        Assert.Equal(2, versions.Get(5));
        Assert.Equal(1, versions.Get(123_456));
        Assert.Equal(1001, index.LiveCount);
        // Every replacement moves the version forward (reassign moves bump it too), in 7 bits, wrapping past 127.
        bool wrapped = false;
        for (int i = 0; i < 200; i++)
        {
            index.WaitForBackground();
            byte before = versions.Get(7);
            index.Insert([7], data.Slice(1700 + (i % 50), 1));
            byte after = versions.Get(7);
            Assert.True(after <= VersionMap.VersionMask);
            int step = (after - before + 128) % 128;
            Assert.True(step is >= 1 and < 16, $"version of id 7 went {before} -> {after}");
            wrapped |= after < before;
        }
        Assert.True(wrapped);
        index.WaitForBackground();

        var p = Everything(index);
        var ids = new int[10];
        var scores = new float[10];
        // Id 5 is now row 1600: found there at distance 0; its old vector (row 5) no longer returns it at distance 0.
        index.SearchOne(Row(data, 1600), 10, p, ids, scores);
        Assert.Equal(5, ids[0]);
        Assert.Equal(0f, scores[0]);
        index.SearchOne(Row(data, 5), 10, p, ids, scores);
        int at = Array.IndexOf(ids, 5);
        Assert.True(at < 0 || scores[at] > 0, "the replaced vector of id 5 must be gone");
        index.SearchOne(Row(data, 1601), 10, p, ids, scores);
        Assert.Equal(123_456, ids[0]);
    }

    [Fact]
    public void ReplicasAreDeduplicatedInResults()
    {
        var data = Base.Value;
        var dir = Build(data.Slice(0, 1000), Small with { PostingPages = 4 });
        using var index = UpdatableSpannIndex.Open(dir);
        InsertRange(index, data, 1000, 500, batch: 250);
        index.WaitForBackground();
        var reachable = Reachable(index);
        int replicated = 0;
        foreach (var c in reachable.Values) if (c > 1) replicated++;
        output.WriteLine($"{replicated} of {reachable.Count} ids in more than one posting");
        Assert.True(replicated > 100, "the closure/RNG rules must give boundary vectors replicas");
        var results = SearchAll(index, SpannTestData.TinyQueries(), 50, Everything(index));
        for (int q = 0; q < results.QueryCount; q++)
        {
            var row = results.IdsOf(q).ToArray();
            Assert.Equal(row.Length, row.Distinct().Count());
            Assert.DoesNotContain(-1, row);
        }
    }

    /// <summary>
    /// Rounds of deletes, fresh inserts and replacements, then recall@10 at a small head budget against a fresh build
    /// of the same contents (ids mapped). Measured: updated 0.9+ vs fresh within 0.01 (see the output line).
    /// </summary>
    [Fact]
    public void RecallAfterUpdateRoundsIsCloseToAFreshBuild()
    {
        var data = Base.Value;
        var dir = Build(data.Slice(0, 1000));
        using var index = UpdatableSpannIndex.Open(dir);
        var rng = new Random(11);
        var contents = new Dictionary<int, int>(); // id -> row of data
        for (int i = 0; i < 1000; i++) contents[i] = i;
        int nextRow = 1000;
        for (int round = 0; round < 5; round++)
        {
            var live = contents.Keys.ToArray();
            var victims = live.OrderBy(_ => rng.Next()).Take(100).ToArray();
            index.Delete(victims);
            foreach (int v in victims) contents.Remove(v);
            // 150 new rows: 120 under new ids, 30 replacing live ids.
            var ids = new List<int>();
            for (int i = 0; i < 120; i++) ids.Add(5000 + nextRow + i);
            ids.AddRange(contents.Keys.OrderBy(_ => rng.Next()).Take(30));
            index.Insert(ids.ToArray(), data.Slice(nextRow, 150));
            for (int i = 0; i < 150; i++) contents[ids[i]] = nextRow + i;
            nextRow += 150;
        }
        index.WaitForBackground();
        Assert.Equal(contents.Count, index.LiveCount);

        // The same contents built fresh (row i of the fresh build = order[i]).
        var order = contents.Keys.Order().ToArray();
        var rows = new float[order.Length * data.Dimension];
        for (int i = 0; i < order.Length; i++) data.CopyRowTo(contents[order[i]], rows.AsSpan(i * data.Dimension, data.Dimension));
        var current = DenseVectors.FromFloat32(rows, order.Length, data.Dimension);
        using var fresh = SpannTestData.BuildAndOpen(current, Small with { Storage = SpannStorage.Float16 }, out _);
        var queries = SpannTestData.TinyQueries();
        var truth = SpannTestData.Exact(current, queries, Metric.L2, 10);
        // One pass of searches finds the postings deletes left nearly empty; their merges finish before measuring.
        SearchAll(index, queries, 10, Everything(index));
        index.WaitForBackground();
        double Updated(int m)
        {
            var found = SearchAll(index, queries, 10, new SpannSearchParameters { Heads = m });
            for (int i = 0; i < found.Ids.Length; i++) found.Ids[i] = found.Ids[i] < 0 ? -1 : Array.BinarySearch(order, found.Ids[i]);
            return SpannTestData.Recall(found, truth, 10);
        }
        double Fresh(int m) => SpannTestData.Recall(fresh.Search(queries, 10, new SpannSearchParameters { Heads = m }, threads: 1), truth, 10);
        foreach (int m in new[] { 4, 8, 16, 32, 64 })
            output.WriteLine($"recall@10 at M={m}: updated {Updated(m):F3} ({index.HeadCount} heads), fresh build {Fresh(m):F3} ({fresh.HeadCount} heads)");
        output.WriteLine(index.Statistics.ToString());
        // Asserted at the default M (64). At M = 32 the updated index measured 0.962-0.990 against the fresh build's 0.986
        // over runs: background timing changes the heads, so the smaller budgets vary by a few hundredths.
        double freshRecall = Fresh(64), updatedRecall = Updated(64);
        Assert.True(updatedRecall >= freshRecall - 0.02, $"updated {updatedRecall} vs fresh {freshRecall}");
    }

    /// <summary>Search-triggered merges off, so what a search sees does not depend on background timing.</summary>
    private static readonly UpdatableSpannOptions Deterministic = new() { MergeOnSearch = false };

    private static (SearchResults Results, int Live, int Heads) Observe(UpdatableSpannIndex index, DenseVectors queries)
    {
        index.WaitForBackground();
        return (SearchAll(index, queries, 10, new SpannSearchParameters { Heads = 16 }), index.LiveCount, index.HeadCount);
    }

    private static void AssertSame((SearchResults Results, int Live, int Heads) expected, (SearchResults Results, int Live, int Heads) actual)
    {
        Assert.Equal(expected.Live, actual.Live);
        Assert.Equal(expected.Heads, actual.Heads);
        Assert.Equal(expected.Results.Ids, actual.Results.Ids);
        Assert.Equal(expected.Results.Scores, actual.Results.Scores);
    }

    [Fact]
    public void CheckpointRoundTripsAndAKillWithoutCheckpointReopensTheLastOne()
    {
        var data = Base.Value;
        var queries = SpannTestData.TinyQueries();
        var dir = Build(data.Slice(0, 1000));
        (SearchResults, int, int) atCheckpoint;
        using (var index = UpdatableSpannIndex.Open(dir, Deterministic))
        {
            Assert.True(index.UserData.IsEmpty);
            InsertRange(index, data, 1000, 300, batch: 100);
            index.Delete([1, 2, 3, 1001]);
            index.WaitForBackground();
            index.Checkpoint("keys-1"u8);
            atCheckpoint = Observe(index, queries);
            Assert.True(index.Statistics.PostingBytesWritten > 0);
            // More work after the checkpoint, then "kill -9": dispose without a checkpoint.
            InsertRange(index, data, 1300, 200, batch: 100);
            index.Delete([4, 5, 6]);
            Assert.NotEqual(atCheckpoint.Item2, index.LiveCount);
        }
        using (var reopened = UpdatableSpannIndex.Open(dir, Deterministic))
        {
            Assert.Equal("keys-1"u8.ToArray(), reopened.UserData.ToArray());
            AssertSame(atCheckpoint, Observe(reopened, queries));
            Assert.Equal(1296, Reachable(reopened).Count);
            // A second round: updates, checkpoint (writes into space freed by the first), reopen.
            InsertRange(reopened, data, 1300, 300, batch: 150);
            reopened.Delete([7, 8]);
            reopened.WaitForBackground();
            reopened.Checkpoint("keys-2"u8);
            atCheckpoint = Observe(reopened, queries);
        }
        using (var again = UpdatableSpannIndex.Open(dir, Deterministic))
        {
            Assert.Equal("keys-2"u8.ToArray(), again.UserData.ToArray());
            AssertSame(atCheckpoint, Observe(again, queries));
            Assert.Equal(1594, Reachable(again).Count);
            // Id 1001 was inserted (version 1) and deleted before the first checkpoint; its dead copy may still lie in a
            // posting. Re-inserted with another vector, it must go above that version (reassign moves may have raised it), or the copy would come back.
            byte dead = again.State.Versions.Get(1001);
            Assert.True((dead & VersionMap.Deleted) != 0 && (dead & VersionMap.VersionMask) >= 1, $"id 1001 reads {dead:x2}");
            again.Insert([1001], data.Slice(1999, 1));
            var ids = new int[10];
            var scores = new float[10];
            again.SearchOne(Row(data, 1001), 10, Everything(again), ids, scores);
            int at = Array.IndexOf(ids, 1001);
            Assert.True(at < 0 || scores[at] > 0, "the deleted vector of id 1001 came back");
        }
    }

    /// <summary>Slots holding decoded rows in memory (the others hold only an on-disk extent).</summary>
    private static int LoadedPostings(UpdatableSpannIndex index)
    {
        var view = index.State.View;
        int n = 0;
        for (int h = 0; h < view.Count; h++) if (view.Posting(h) is { IsLoaded: true }) n++;
        return n;
    }

    /// <summary>What every live posting would cost in memory if it were decoded.</summary>
    private static long PostingBytes(UpdatableSpannIndex index)
    {
        var view = index.State.View;
        long bytes = 0;
        for (int h = 0; h < view.Count; h++)
            if (view.IsLive(h) && view.Posting(h) is { } p) bytes += index.State.Reader.Load(p).ResidentBytes;
        return bytes;
    }

    private static double SearchMicroseconds(UpdatableSpannIndex index, DenseVectors queries)
    {
        var p = new SpannSearchParameters { Heads = 16 };
        SearchAll(index, queries, 10, p);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int round = 0; round < 10; round++) SearchAll(index, queries, 10, p);
        return watch.Elapsed.TotalMicroseconds / (10.0 * queries.Count);
    }

    [Fact]
    public void PostingsStayOnDiskAndACheckpointDropsRewrittenOnesWithoutChangingResults()
    {
        var data = Base.Value;
        var queries = SpannTestData.TinyQueries();
        // f32 postings (exact for uint8 input), so that postings dominate what a decoded index would hold.
        var dir = Build(data.Slice(0, 1000), new SpannBuildOptions { Metric = Metric.L2, HeadRatio = 0.05, PostingPages = 4, Threads = 2, Storage = SpannStorage.Float32 });
        // A page limit no posting reaches: no split runs, so what is in memory is exactly what the inserts rewrote.
        var options = new UpdatableSpannOptions { MergeOnSearch = false, PostingPages = 64 };
        (SearchResults, int, int) dropped;
        long open;
        var rewritten = new Dictionary<int, (int[] Ids, byte[] Versions, byte[] Vectors)>();
        using (var index = UpdatableSpannIndex.Open(dir, options))
        {
            Assert.Equal(0, LoadedPostings(index));
            long postings = PostingBytes(index);
            open = index.ResidentBytes;
            output.WriteLine($"after open: resident {open} B, postings {postings} B");
            Assert.True(open < postings / 4, $"resident {open} B after open, postings {postings} B");
            var atOpen = Observe(index, queries);

            InsertRange(index, data, 1000, 300, batch: 100);
            index.WaitForBackground();
            Assert.Equal(0, index.Statistics.Splits);
            long dirty = index.ResidentBytes;
            int loaded = LoadedPostings(index);
            output.WriteLine($"after 300 inserts: resident {dirty} B, {loaded} postings in memory");
            Assert.True(loaded > 0);
            Assert.True(dirty > open + 300L * 512, $"resident {dirty} B after inserts, {open} B after open");
            var view = index.State.View;
            for (int h = 0; h < view.Count; h++)
                if (view.Posting(h) is { IsLoaded: true } p) rewritten[h] = (p.Ids, p.Versions, p.Vectors);
            var inMemory = Observe(index, queries);
            Assert.NotEqual(atOpen.Item1.Ids, inMemory.Item1.Ids);
            double memoryUs = SearchMicroseconds(index, queries);

            index.Checkpoint("lazy"u8);
            Assert.Equal(0, LoadedPostings(index));
            output.WriteLine($"after checkpoint: resident {index.ResidentBytes} B");
            Assert.True(index.ResidentBytes <= open + 1024, $"resident {index.ResidentBytes} B after checkpoint, {open} B after open");
            dropped = Observe(index, queries);
            AssertSame(inMemory, dropped);
            output.WriteLine($"search (16 heads, k = 10): {memoryUs:F1} us/query with every posting in memory, {SearchMicroseconds(index, queries):F1} us/query read from disk (page cache)");
        }
        using (var reopened = UpdatableSpannIndex.Open(dir, options))
        {
            Assert.Equal(0, LoadedPostings(reopened));
            Assert.True(reopened.ResidentBytes <= open + 1024);
            AssertSame(dropped, Observe(reopened, queries));
            // The rewritten postings now come from the side file, row for row.
            var view = reopened.State.View;
            foreach (var (h, rows) in rewritten)
            {
                var slot = view.Posting(h)!;
                Assert.True(slot.Persisted is { InSideFile: true }, $"posting {h} is not in the side file");
                var p = reopened.State.Reader.Load(slot);
                Assert.Equal(rows.Ids, p.Ids);
                Assert.Equal(rows.Versions, p.Versions);
                Assert.Equal(rows.Vectors, p.Vectors);
            }
            // And updates load them from there: more inserts, then all-heads search equals the live contents.
            InsertRange(reopened, data, 1300, 100, batch: 50);
            reopened.WaitForBackground();
            Assert.Equal(1400, Reachable(reopened).Count);
            Assert.True(LoadedPostings(reopened) > 0);
        }
    }

    [Theory]
    [InlineData("postings-written")]
    [InlineData("snapshot-written")]
    public void ACrashInsideCheckpointLeavesOneWholeCheckpoint(string point)
    {
        var data = Base.Value;
        var queries = SpannTestData.TinyQueries();
        var dir = Build(data.Slice(0, 1000));
        (SearchResults, int, int) before, after;
        using (var index = UpdatableSpannIndex.Open(dir, Deterministic))
        {
            InsertRange(index, data, 1000, 200, batch: 100);
            index.WaitForBackground();
            index.Checkpoint("a"u8);
            before = Observe(index, queries);
            InsertRange(index, data, 1200, 200, batch: 100);
            index.Delete([10, 11]);
            after = Observe(index, queries);
            index.CheckpointFault = at => { if (at == point) throw new IOException("simulated crash at " + at); };
            Assert.Throws<IOException>(() => index.Checkpoint("b"u8));
        }
        using var reopened = UpdatableSpannIndex.Open(dir, Deterministic);
        // Before the snapshot's rename the old checkpoint stands; after it, the new one.
        if (point == "postings-written")
        {
            Assert.Equal("a"u8.ToArray(), reopened.UserData.ToArray());
            AssertSame(before, Observe(reopened, queries));
        }
        else
        {
            Assert.Equal("b"u8.ToArray(), reopened.UserData.ToArray());
            AssertSame(after, Observe(reopened, queries));
        }
    }

    [Fact]
    public void ACorruptOrTruncatedSnapshotIsAnErrorNamingTheFile()
    {
        var data = Base.Value;
        var dir = Build(data.Slice(0, 1000));
        using (var index = UpdatableSpannIndex.Open(dir))
        {
            InsertRange(index, data, 1000, 200, batch: 100);
            index.WaitForBackground();
            index.Checkpoint("x"u8);
        }
        var snapshot = Path.Combine(dir, "updates.snapshot");
        var good = File.ReadAllBytes(snapshot);

        var flipped = (byte[])good.Clone();
        flipped[flipped.Length / 2] ^= 0x40;
        File.WriteAllBytes(snapshot, flipped);
        var e = Assert.Throws<DataFormatException>(() => UpdatableSpannIndex.Open(dir));
        Assert.Equal(ErrorKind.Corrupt, e.Kind);
        Assert.Contains(snapshot, e.Message);

        File.WriteAllBytes(snapshot, good.AsSpan(0, good.Length - 100).ToArray());
        e = Assert.Throws<DataFormatException>(() => UpdatableSpannIndex.Open(dir));
        Assert.Contains(snapshot, e.Message);

        // A flipped byte inside a rewritten posting of the side file fails that posting's checksum.
        File.WriteAllBytes(snapshot, good);
        var side = Path.Combine(dir, "postings-updated.bin");
        var sideBytes = File.ReadAllBytes(side);
        sideBytes[10] ^= 0x01;
        File.WriteAllBytes(side, sideBytes);
        e = Assert.Throws<DataFormatException>(() => UpdatableSpannIndex.Open(dir));
        Assert.Contains(side, e.Message);
    }

    [Fact]
    public void BadInputIsRejectedNamingTheProblem()
    {
        var data = Base.Value;
        var dir = Build(data.Slice(0, 1000));
        using var index = UpdatableSpannIndex.Open(dir);
        void Invalid(Action a, string fragment)
        {
            var e = Assert.Throws<RetrievalException>(a);
            Assert.Equal(ErrorKind.InvalidInput, e.Kind);
            Assert.Contains(fragment, e.Message);
        }
        Invalid(() => index.Insert([5000], DenseVectors.FromFloat32(new float[64], 1, 64)), "dimension");
        var nan = new float[128];
        nan[3] = float.NaN;
        Invalid(() => index.Insert([5000], DenseVectors.FromFloat32(nan, 1, 128)), "NaN");
        Invalid(() => index.Insert([-1], data.Slice(0, 1)), "negative");
        Invalid(() => index.Insert([7, 7], data.Slice(0, 2)), "twice");
        Invalid(() => index.Insert([7], data.Slice(0, 2)), "one id per vector");
        Invalid(() => index.Delete([-3]), "negative");
        Invalid(() => index.Delete([4, 4]), "twice");
        Invalid(() => index.SearchOne(new float[3], 10, new SpannSearchParameters(), new int[10], new float[10]), "dimension");
        Assert.Equal(1000, index.LiveCount);
    }

    [Fact]
    public async Task SearchesRunWhileUpdatesAndRebuildsHappen()
    {
        var data = Base.Value;
        var dir = Build(data.Slice(0, 1000));
        using var index = UpdatableSpannIndex.Open(dir);
        var queries = SpannTestData.TinyQueries();
        using var stop = new CancellationTokenSource();
        long searches = 0;
        var searcher = Task.Run(() =>
        {
            var ids = new int[10];
            var scores = new float[10];
            var p = new SpannSearchParameters { Heads = 32 };
            while (!stop.IsCancellationRequested)
            {
                for (int q = 0; q < queries.Count; q++)
                {
                    int n = index.SearchOne(queries.Float32Row(q), 10, p, ids, scores);
                    Assert.Equal(n, ids.Take(n).Distinct().Count());
                    for (int i = 1; i < n; i++) Assert.True(scores[i - 1] <= scores[i]);
                    searches++;
                }
            }
        });
        // Checkpoints meanwhile drop written postings to their extents under searches that may hold the in-memory ones.
        InsertRange(index, data, 1000, 300, batch: 50);
        index.Checkpoint([]);
        InsertRange(index, data, 1300, 300, batch: 50);
        for (int id = 0; id < 1000; id += 3) index.Delete([id]);
        index.Checkpoint([]);
        index.WaitForBackground();
        stop.Cancel();
        await searcher;
        output.WriteLine($"{searches} searches ran during the updates; {index.Statistics}");
        Assert.True(searches > 0);
        Assert.Equal(1600 - 334, Reachable(index).Count);
    }
}
