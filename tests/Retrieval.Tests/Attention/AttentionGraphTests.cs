using Retrieval.Index.Attention;

namespace Retrieval.Tests.Attention;

public class AttentionGraphTests
{
    private static readonly AttentionIndexOptions SmallOptions = new()
    {
        TrainingNeighbors = 16,
        Connectivity = 12,
        BuildBeamWidth = 24,
        TrainingSampleRate = 0.5,
        AppendFoldBatch = 64,
    };

    private static void AssertInvariants(KeyGraph graph, int nodeCount, int m)
    {
        Assert.Equal(nodeCount, graph.NodeCount);
        for (int i = 0; i < nodeCount; i++)
        {
            var neighbors = graph.Neighbors(i);
            Assert.True(neighbors.Length <= m, $"node {i} has out-degree {neighbors.Length} > M = {m}");
            for (int a = 0; a < neighbors.Length; a++)
            {
                Assert.NotEqual(i, neighbors[a]);
                Assert.InRange(neighbors[a], 0, nodeCount - 1);
                for (int b = a + 1; b < neighbors.Length; b++) Assert.NotEqual(neighbors[a], neighbors[b]);
            }
        }
        var reached = new bool[nodeCount];
        int count = graph.MarkReachable(reached);
        Assert.True(count == nodeCount, $"only {count} of {nodeCount} keys are reachable from the entry points");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 0)]
    [InlineData(3, 4)]
    public void GraphRespectsDegreeBoundAndReachesEveryKey(int seed, int pivotsPerQuery)
    {
        var head = new SyntheticHead(3000, 1500, 16, seed);
        var store = new KeyValueStore(head.Dimension, head.Keys, head.Values, head.KeyCount);
        var options = SmallOptions with { PivotsPerQuery = pivotsPerQuery };
        var index = AttentionHeadIndex.Build(store, head.TrainingQueries, head.QueryCount, options);
        AssertInvariants(index.Graph, head.KeyCount, options.Connectivity);
        Assert.Equal(750, index.BuildStats.TrainingQueries);
    }

    [Fact]
    public void BuildsOnOneAndTwoThreadsAreIdenticalWhenPivotCandidateListsOutgrowTheirBuffers()
    {
        // Every training query's 64 keys are pivots; hubs gather candidates from up to 64 queries (thousands), so
        // the per-thread candidate buffers grow mid-gathering. A regrowth that dropped the gathered candidates made
        // builds differ with the parallel partitioning and gave hubs repeated neighbours.
        var head = new SyntheticHead(1500, 3000, 16, 41);
        var options = SmallOptions with { TrainingNeighbors = 64, Connectivity = 16, TrainingSampleRate = 1 };
        var lists = new int[2][][];
        for (int build = 0; build < 2; build++)
        {
            var store = new KeyValueStore(head.Dimension, head.Keys, head.Values, head.KeyCount);
            var index = AttentionHeadIndex.Build(store, head.TrainingQueries, head.QueryCount, options with { Threads = 1 + build });
            AssertInvariants(index.Graph, head.KeyCount, options.Connectivity);
            lists[build] = Enumerable.Range(0, head.KeyCount).Select(i => index.Graph.Neighbors(i).ToArray()).ToArray();
        }
        for (int i = 0; i < head.KeyCount; i++) Assert.Equal(lists[0][i], lists[1][i]);

        // The growth itself keeps what was gathered (the regression: a fresh array turned it into key 0, repeated).
        var buffers = new RoarGraphBuilder.PruneBuffers(10);
        for (int i = 0; i < 200; i++) buffers.Candidates[i] = i + 1;
        buffers.Ensure(200 + 64 * 4);
        Assert.True(buffers.Candidates.Length >= 456);
        for (int i = 0; i < 200; i++) Assert.Equal(i + 1, buffers.Candidates[i]);
    }

    [Fact]
    public void TinyCachesBuildAndSearch()
    {
        // One key, two keys: the degenerate sizes a short prompt produces.
        for (int n = 1; n <= 3; n++)
        {
            var head = new SyntheticHead(n, 4, 8, 5);
            var store = new KeyValueStore(8, head.Keys, head.Values, n);
            var index = AttentionHeadIndex.Build(store, head.TrainingQueries, 4, SmallOptions);
            AssertInvariants(index.Graph, n, SmallOptions.Connectivity);
            var ids = new int[n];
            var scores = new float[n];
            int found = index.SearchOne(head.TestQuery(0), n, new AttentionSearchParameters(), ids, scores, new BeamSearchScratch());
            Assert.Equal(n, found);
            Assert.Equal(SyntheticHead.ExactTopK(head.Keys, n, 8, head.TestQuery(0), n), ids);
        }
    }

    [Fact]
    public void BeamAsWideAsTheCacheIsExactSearch()
    {
        var head = new SyntheticHead(2000, 1000, 16, 7);
        var store = new KeyValueStore(head.Dimension, head.Keys, head.Values, head.KeyCount);
        var index = AttentionHeadIndex.Build(store, head.TrainingQueries, head.QueryCount, SmallOptions);
        int k = 20;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = head.KeyCount, SinkTokens = 4, WindowTokens = 50 };
        var scratch = new BeamSearchScratch();
        var ids = new int[20];
        var scores = new float[20];
        for (int q = 0; q < 20; q++)
        {
            index.SearchOne(head.TestQuery(q), k, parameters, ids, scores, scratch);
            Assert.Equal(SyntheticHead.ExactTopK(head.Keys, head.KeyCount, head.Dimension, head.TestQuery(q), 20, 4, head.KeyCount - 50), ids);
            Assert.Equal(head.KeyCount, scratch.LastKeysScored);
        }
    }

    [Fact]
    public void NarrowBeamFindsMostNeighboursWhileScoringFewKeys()
    {
        var head = new SyntheticHead(6000, 3000, 16, 9);
        var store = new KeyValueStore(head.Dimension, head.Keys, head.Values, head.KeyCount);
        var index = AttentionHeadIndex.Build(store, head.TrainingQueries, head.QueryCount, SmallOptions);
        int k = 10;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = 64 };
        var scratch = new BeamSearchScratch();
        var ids = new int[10];
        var scores = new float[10];
        double recall = 0, scored = 0;
        for (int q = 0; q < 100; q++)
        {
            index.SearchOne(head.TestQuery(q), k, parameters, ids, scores, scratch);
            var exact = SyntheticHead.ExactTopK(head.Keys, head.KeyCount, head.Dimension, head.TestQuery(q), 10);
            recall += ids.Intersect(exact).Count() / 10.0;
            scored += scratch.LastKeysScored;
        }
        recall /= 100;
        scored /= 100.0 * head.KeyCount;
        // Measured 0.999 recall@10 at 3.8% of keys scored (seed 9, ef 64); the floors leave room for build-order noise.
        Assert.True(recall >= 0.9, $"recall@10 {recall:F3}");
        Assert.True(scored <= 0.1, $"scored {scored:P1} of keys");
    }

    [Fact]
    public void AppendedKeysAreSearchableAtOnceAndAfterFolding()
    {
        var head = new SyntheticHead(3000, 1500, 16, 13);
        var store = new KeyValueStore(head.Dimension, head.Keys, head.Values, head.KeyCount);
        var index = AttentionHeadIndex.Build(store, head.TrainingQueries, head.QueryCount, SmallOptions);
        var scratch = new BeamSearchScratch();
        int k = 5;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = 32 };
        var ids = new int[5];
        var scores = new float[5];
        var query = head.TestQuery(0).ToArray();

        // A key that is the best match of the query by far.
        var strong = query.Select(x => 10 * x).ToArray();
        int position = store.Append(strong, new float[head.Dimension]);
        Assert.Equal(1, index.PendingCount);
        index.SearchOne(query, k, parameters, ids, scores, scratch);
        Assert.Equal(position, ids[0]);

        // The window hides it: the caller attends to recent tokens itself.
        index.SearchOne(query, k, parameters with { WindowTokens = 1 }, ids, scores, scratch);
        Assert.DoesNotContain(position, ids);

        // Append enough to fold, then check graph invariants and that the strong key is still found.
        var rng = new Random(3);
        var more = new float[200 * head.Dimension];
        for (int i = 0; i < more.Length; i++) more[i] = (float)SyntheticHead.Gaussian(rng);
        store.Append(more, new float[more.Length]);
        index.FoldAppended(scratch);
        Assert.Equal(0, index.PendingCount);
        AssertInvariants(index.Graph, store.Count, SmallOptions.Connectivity);
        index.SearchOne(query, k, parameters, ids, scores, scratch);
        Assert.Equal(position, ids[0]);
    }

    [Fact]
    public void QueryGuidedInsertionLinksEachAppendedKeyAtOnce()
    {
        var head = new SyntheticHead(3000, 1500, 16, 17);
        var store = new KeyValueStore(head.Dimension, head.Keys, head.Values, head.KeyCount);
        var options = SmallOptions with { AppendMode = AppendMode.QueryGuided, RecentQueries = 8, RecentQueryListLength = 8 };
        var index = AttentionHeadIndex.Build(store, head.TrainingQueries, head.QueryCount, options);
        var scratch = new BeamSearchScratch();
        int k = 5;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = 32 };
        var ids = new int[5];
        var scores = new float[5];
        var query = head.TestQuery(0).ToArray();
        for (int q = 1; q <= 8; q++) index.ObserveQuery(head.TestQuery(q), scratch);
        Assert.Equal(8, index.RememberedQueries);

        // The new key goes into the graph itself (nothing pending) and is the query's best match at once.
        int position = store.Append(query.Select(x => 10 * x).ToArray(), new float[head.Dimension]);
        index.InsertAppended(scratch);
        Assert.Equal(0, index.PendingCount);
        Assert.True(index.Graph.Degree(position) > 0, "the inserted key has out-edges");
        index.SearchOne(query, k, parameters, ids, scores, scratch);
        Assert.Equal(position, ids[0]);

        // 191 more one at a time (with observed queries between): the repair after every AppendFoldBatch (64)
        // insertions leaves every key reachable and every degree bounded, and the strong key is still found.
        var rng = new Random(5);
        for (int i = 0; i < 191; i++)
        {
            var key = new float[head.Dimension];
            for (int j = 0; j < key.Length; j++) key[j] = (float)SyntheticHead.Gaussian(rng);
            store.Append(key, new float[head.Dimension]);
            index.InsertAppended(scratch);
            if (i % 10 == 0) index.ObserveQuery(head.TestQuery(20 + i / 10), scratch);
        }
        Assert.Equal(0, index.PendingCount);
        AssertInvariants(index.Graph, store.Count, options.Connectivity);
        Assert.Equal(1, index.Graph.EntryPoints.Length);
        index.SearchOne(query, k, parameters, ids, scores, scratch);
        Assert.Equal(position, ids[0]);

        // Recall over the grown store stays at the level of the static build's test (floor 0.9 at k = 10).
        int k10 = 10;
        var p10 = new AttentionSearchParameters { SearchBeamWidth = 64 };
        var ids10 = new int[10];
        var scores10 = new float[10];
        double recall = 0;
        for (int q = 50; q < 100; q++)
        {
            index.SearchOne(head.TestQuery(q), k10, p10, ids10, scores10, scratch);
            var allKeys = SyntheticHead.AllKeys(store);
            var exact = SyntheticHead.ExactTopK(allKeys, store.Count, head.Dimension, head.TestQuery(q), 10);
            recall += ids10.Intersect(exact).Count() / 10.0;
        }
        Assert.True(recall / 50 >= 0.9, $"recall@10 after query-guided appends {recall / 50:F3}");
    }

    [Fact]
    public void WarmSearchAndAttendAllocateNothing()
    {
        var head = new SyntheticHead(2000, 1000, 16, 21);
        var store = new KeyValueStore(head.Dimension, head.Keys, head.Values, head.KeyCount);
        var index = AttentionHeadIndex.Build(store, head.TrainingQueries, head.QueryCount, SmallOptions);
        int k = 10;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = 64, SinkTokens = 4, WindowTokens = 16 };
        var scratch = new BeamSearchScratch();
        var ids = new int[10];
        var scores = new float[10];
        var output = new float[16];
        for (int q = 0; q < 20; q++) index.Attend(head.TestQuery(q), k, parameters, output, ids, scores, scratch);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int q = 0; q < 100; q++)
        {
            index.SearchOne(head.TestQuery(q), k, parameters, ids, scores, scratch);
            index.Attend(head.TestQuery(q), k, parameters, output, ids, scores, scratch);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
