using System.Diagnostics;
using Retrieval.Index.Formats;
using Retrieval.Index.Search;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

/// <summary>
/// SPFresh-style updates on real MiniLM passages (cosine, float16, f16 postings, the build's default 16-page limit):
/// insert throughput and recall after insert/delete rounds against a fresh build of the same contents. A long test
/// (a minute or more on 2 busy cores): RETRIEVAL_LONG_TESTS=1. Figures it printed are in docs/SPFRESH.md.
/// </summary>
public class UpdatableSpannMiniLmTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [SkippableFact]
    public void MiniLmInsertThroughputAndRecallAgainstAFreshBuild()
    {
        TestData.RequireLongTests("SPFresh updates on 5,000 MiniLM passages");
        var dir = TestData.SharedDataset("minilm-passages");
        var all = DenseVectorFile.Read(Path.Combine(dir, "base.npy"), new() { MaxRows = 5_000 });
        var queries = DenseVectorFile.Read(Path.Combine(dir, "queries.npy"), new() { MaxRows = 100 }).ToFloat32();
        var options = new SpannBuildOptions { Metric = Metric.Cosine, Threads = 2 };
        var indexDir = Path.Combine(TestData.TempDirectory(), "spann");
        SpannBuilder.Build(all.Slice(0, 3_000), indexDir, options);
        using var index = UpdatableSpannIndex.Open(indexDir);
        output.WriteLine($"built 3000, {index.HeadCount} heads, posting limit {index.PostingCapacity} rows");

        var contents = new Dictionary<int, int>();
        for (int i = 0; i < 3_000; i++) contents[i] = i;
        var rng = new Random(5);
        var clock = Stopwatch.StartNew();
        int inserted = 0;
        for (int round = 0; round < 4; round++)
        {
            // Each round: delete 250 random live ids, insert 500 new rows (50 of them replacing live ids).
            var victims = contents.Keys.OrderBy(_ => rng.Next()).Take(250).ToArray();
            index.Delete(victims);
            foreach (int v in victims) contents.Remove(v);
            int first = 3_000 + round * 500;
            var ids = new List<int>();
            for (int i = 0; i < 450; i++) ids.Add(100_000 + first + i);
            ids.AddRange(contents.Keys.OrderBy(_ => rng.Next()).Take(50));
            for (int b = 0; b < 500; b += 100) index.Insert(ids.GetRange(b, 100).ToArray(), all.Slice(first + b, 100));
            for (int i = 0; i < 500; i++) contents[ids[i]] = first + i;
            inserted += 500;
        }
        double foreground = clock.Elapsed.TotalSeconds;
        index.WaitForBackground();
        double total = clock.Elapsed.TotalSeconds;
        output.WriteLine($"{inserted} inserts + 1000 deletes: foreground {foreground:F1} s ({inserted / foreground:F0} inserts/s), with background rebalancing {total:F1} s ({inserted / total:F0} inserts/s)");
        output.WriteLine(index.Statistics.ToString());
        Assert.Equal(contents.Count, index.LiveCount);

        var order = contents.Keys.Order().ToArray();
        var rows = new float[order.Length * all.Dimension];
        for (int i = 0; i < order.Length; i++) all.CopyRowTo(contents[order[i]], rows.AsSpan(i * all.Dimension, all.Dimension));
        var current = DenseVectors.FromFloat32(rows, order.Length, all.Dimension);
        var truth = SpannTestData.Exact(current, queries, Metric.Cosine, 10);
        var freshDir = Path.Combine(TestData.TempDirectory(), "fresh");
        // Float16 postings like the updated index (the contents are float16 values, so f16 holds them exactly).
        SpannBuilder.Build(current, freshDir, options with { Storage = SpannStorage.Float16 });
        using var fresh = SpannIndex.Open(freshDir);

        // A first pass of searches queues the merges of postings deletes left nearly empty (SPFresh's trigger).
        var results = new SearchResults(queries.Count, 10);
        for (int q = 0; q < queries.Count; q++) index.SearchOne(queries.Float32Row(q), 10, new SpannSearchParameters(), results.IdsOf(q), results.ScoresOf(q));
        index.WaitForBackground();
        double worst = 1;
        foreach (int m in new[] { 8, 16, 32, 64 })
        {
            var p = new SpannSearchParameters { Heads = m };
            for (int q = 0; q < queries.Count; q++) index.SearchOne(queries.Float32Row(q), 10, p, results.IdsOf(q), results.ScoresOf(q));
            for (int i = 0; i < results.Ids.Length; i++) results.Ids[i] = results.Ids[i] < 0 ? -1 : Array.BinarySearch(order, results.Ids[i]);
            double updated = SpannTestData.Recall(results, truth, 10);
            double freshRecall = SpannTestData.Recall(fresh.Search(queries, 10, p, threads: 1), truth, 10);
            worst = Math.Min(worst, updated - freshRecall);
            output.WriteLine($"recall@10 M={m}: updated {updated:F3} ({index.HeadCount} heads), fresh build {freshRecall:F3} ({fresh.HeadCount} heads)");
        }
        output.WriteLine($"resident {index.ResidentBytes >> 10} KiB, on disk {index.BytesOnDisk >> 10} KiB");
        Assert.True(worst >= -0.02, $"updated recall falls {-worst:F3} below the fresh build's");
    }
}
