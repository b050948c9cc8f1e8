using Retrieval.Index.Graphs;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Query.Indexes;
using Retrieval.Query.Indexes.Spann;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

/// <summary>Head navigation (seeded beam search, beam tied to M), graph-guided assignment, the read threads, and the query layer's SPANN knobs.</summary>
public class SpannNavigationTests
{
    [Fact]
    public void BeamFollowsHeadsUnlessSet()
    {
        Assert.Equal(20, new SpannSearchParameters().BeamFor(16));
        Assert.Equal(80, new SpannSearchParameters().BeamFor(64));
        Assert.Equal(96, new SpannSearchParameters { SearchBeamWidth = 96 }.BeamFor(16));
        Assert.Equal(128, new SpannSearchParameters { SearchBeamWidth = 96 }.BeamFor(128));
        Assert.Throws<Retrieval.Index.Errors.RetrievalException>(() => new SpannSearchParameters { SearchBeamWidth = -1 }.Validate());
    }

    [Fact]
    public void GraphNearestFindsTheExactNearestNodesWithAWideBeam()
    {
        var nodes = SpannTestData.RandomFloat(seed: 3, n: 600, d: 16).ToFloat32();
        var rows = SpannTestData.RandomFloat(seed: 4, n: 50, d: 16).ToFloat32();
        var nodeArray = Floats(nodes);
        var rowArray = Floats(rows);
        var graph = NavigationGraphBuilder.Build(nodeArray, 600, 16, degree: 16, candidates: 32, alpha: 1.2, threads: 2);
        var exact = Retrieval.Index.Clustering.NearestCentroids.Find(rowArray, 50, nodeArray, 600, 16, 8, threads: 1);
        var approx = GraphNearest.Find(graph, nodeArray, rows, k: 8, beamWidth: 64, threads: 2);
        Assert.True(SpannTestData.Recall(approx, exact, 8) >= 0.9, $"recall {SpannTestData.Recall(approx, exact, 8)}");
        for (int q = 0; q < 50; q++)
            for (int i = 1; i < 8; i++) Assert.True(approx.ScoresOf(q)[i - 1] <= approx.ScoresOf(q)[i], "nearest first");
    }

    [Fact]
    public void InsertionBuiltGraphReachesEveryNodeAndFindsNeighbours()
    {
        const int n = 3000, d = 16;
        var nodeArray = Floats(SpannTestData.RandomFloat(seed: 5, n: n, d: d, clusters: 60));
        var rows = SpannTestData.RandomFloat(seed: 6, n: 100, d: d, clusters: 60).ToFloat32();
        var rowArray = Floats(rows);
        var graph = NavigationGraphBuilder.BuildByInsertion(nodeArray, n, d, degree: 16, beamWidth: 48, alpha: 1.2, threads: 2);
        var reached = new bool[n];
        var queue = new Queue<int>([graph.EntryPoint]);
        reached[graph.EntryPoint] = true;
        while (queue.Count > 0)
            foreach (int c in graph.Neighbours(queue.Dequeue()))
                if (c >= 0 && !reached[c]) { reached[c] = true; queue.Enqueue(c); }
        Assert.DoesNotContain(false, reached);
        var exact = Retrieval.Index.Clustering.NearestCentroids.Find(rowArray, 100, nodeArray, n, d, 10, threads: 1);
        var approx = GraphNearest.Find(graph, nodeArray, rows, k: 10, beamWidth: 64, threads: 2);
        Assert.True(SpannTestData.Recall(approx, exact, 10) >= 0.9, $"recall {SpannTestData.Recall(approx, exact, 10)}");
    }

    [Fact]
    public void GraphAssignmentKeepsEveryVectorAndRecall()
    {
        var vectors = SpannTestData.TinyBase();
        var queries = SpannTestData.TinyQueries();
        var exactOptions = new SpannBuildOptions { Metric = Metric.L2, HeadRatio = 0.1 };
        using var byScan = SpannTestData.BuildAndOpen(vectors, exactOptions, out _);
        using var byGraph = SpannTestData.BuildAndOpen(vectors, exactOptions with { ExactAssignmentMaxHeads = 0 }, out _);
        Assert.Equal(0, byGraph.Manifest.Stats.VectorsInNoPosting);
        long assigned = 0;
        foreach (var c in byGraph.Manifest.Stats.ReplicaHistogram.AsSpan(1)) assigned += c;
        Assert.Equal(vectors.Count, assigned);
        var truth = SpannTestData.Exact(vectors, queries, Metric.L2, 10);
        var p = new SpannSearchParameters { Heads = 16, Io = PostingIoMode.Memory };
        double scan = SpannTestData.Recall(byScan.Search(queries, 10, p, 1), truth, 10);
        double graph = SpannTestData.Recall(byGraph.Search(queries, 10, p, 1), truth, 10);
        Assert.True(graph >= scan - 0.02, $"graph-assigned recall {graph} vs scan-assigned {scan}");
    }

    [Fact]
    public void DiskReadsLeaveTheProcessThreadPoolAlone()
    {
        ThreadPool.GetMinThreads(out int workersBefore, out int ioBefore);
        var vectors = SpannTestData.TinyBase();
        var queries = SpannTestData.TinyQueries();
        using (var index = SpannTestData.BuildAndOpen(vectors, new SpannBuildOptions { Metric = Metric.L2, HeadRatio = 0.1 }, out _))
        {
            var truth = SpannTestData.Exact(vectors, queries, Metric.L2, 10);
            var all = new SpannSearchParameters { Heads = index.Heads.Count, PruneEpsilon = -1 };
            foreach (var io in new[] { PostingIoMode.Direct, PostingIoMode.Buffered })
                Assert.Equal(truth.Ids, index.Search(queries, 10, all with { Io = io }, threads: 2).Ids);
            Assert.True(index.ReadCount >= 2 * queries.Count * index.Heads.Count, $"reads {index.ReadCount}");
        }
        ThreadPool.GetMinThreads(out int workersAfter, out int ioAfter);
        Assert.Equal(workersBefore, workersAfter);
        Assert.Equal(ioBefore, ioAfter);
    }

    [Fact]
    public void ReadWorkersRunQueuedItemsAndStop()
    {
        using var workers = new ReadWorkers(threadCount: 3);
        using var done = new CountdownEvent(20);
        for (int i = 0; i < 20; i++) workers.Dispatch(new Signal(done));
        Assert.True(done.Wait(TimeSpan.FromSeconds(10)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReadWorkers(0));
    }

    [Fact]
    public void QueryLayerPassesSpannKnobsThroughTheGenericIndexContract()
    {
        var vectors = SpannTestData.TinyBase();
        var dir = Path.Combine(TestData.TempDirectory(), "spann");
        SpannBuilder.Build(vectors, dir, new SpannBuildOptions { Metric = Metric.L2, HeadRatio = 0.1 });
        using ISearchIndex index = IndexRegistry.Default.Open(dir);
        var queries = QuerySet.FromDense(SpannTestData.TinyQueries());
        var reads = (IReportsReads)index;
        var ids = new int[10];
        var scores = new float[10];
        long before = reads.ReadCount;
        index.SearchOne(queries, 0, 10, SpannIndexParameters.Create(heads: 3, eps2: -1, io: PostingIoMode.Buffered), ids, scores);
        Assert.Equal(3, reads.ReadCount - before);
        before = reads.ReadCount;
        index.SearchOne(queries, 0, 10, SpannIndexParameters.Create(heads: 12, eps2: -1, beam: 40, io: PostingIoMode.Buffered), ids, scores);
        Assert.Equal(12, reads.ReadCount - before);
        var described = SpannIndexParameters.Create(heads: 12, beam: 40).Describe();
        Assert.Contains(described, f => f.Name == "beam" && Convert.ToInt32(f.Value) == 40);
        Assert.Throws<Retrieval.Index.Errors.RetrievalException>(() => SpannIndexParameters.Create(heads: 0));
    }

    private static float[] Floats(DenseVectors v)
    {
        var a = new float[v.Count * v.Dimension];
        for (int i = 0; i < v.Count; i++) v.CopyRowTo(i, a.AsSpan(i * v.Dimension, v.Dimension));
        return a;
    }

    private sealed class Signal(CountdownEvent done) : IThreadPoolWorkItem
    {
        public void Execute() => done.Signal();
    }
}
