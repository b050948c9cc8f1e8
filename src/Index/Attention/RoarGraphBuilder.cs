using System.Diagnostics;

namespace Retrieval.Index.Attention;

/// <summary>
/// RoarGraph projection of the training-query -> key bipartite graph onto keys (Chen et al., VLDB 2024):
/// each training query's best key becomes a pivot whose candidate neighbours are the query's other top
/// k_train keys; candidates are pruned RNG-style to M; reverse edges are added and overflowing lists
/// re-pruned; finally a connectivity pass (<see cref="ConnectivityRepair"/>) links every key not reachable from the
/// entry point.
/// </summary>
internal static unsafe class RoarGraphBuilder
{
    /// <summary>
    /// Builds a graph over every key of <paramref name="store"/> into a new slot of its node block (the caller
    /// releases the slot with <see cref="KeyGraph.Release"/> if it drops the graph).
    /// </summary>
    public static KeyGraph Build(KeyValueStore store, ReadOnlySpan<float> trainingQueries,
        int trainingCount, AttentionIndexOptions options, out GraphBuildStats stats)
    {
        options.Validate();
        int threads = options.EffectiveThreads;
        var clock = Stopwatch.StartNew();
        int keyCount = store.Count, dimension = store.Dimension;
        int m = options.Connectivity;
        // Attach first: the slot re-lays the block out, after which raw key rows stay put for the whole build.
        var graph = new KeyGraph(store, m, keyCount);
        try
        {
            stats = BuildInto(graph, store.Rows, keyCount, dimension, trainingQueries, trainingCount, options, threads, clock);
            return graph;
        }
        catch
        {
            graph.Release();
            throw;
        }
    }

    private static GraphBuildStats BuildInto(KeyGraph graph, KeyRows keys, int keyCount, int dimension,
        ReadOnlySpan<float> trainingQueries, int trainingCount, AttentionIndexOptions options, int threads, Stopwatch clock)
    {

        float[] sample = SampleQueries(trainingQueries, trainingCount, dimension, options.TrainingSampleRate, out int sampleCount);
        int kTrain = Math.Min(options.TrainingNeighbors, keyCount);
        int[] knn = TrainingNeighbors.Compute(keys, keyCount, sample, sampleCount, kTrain, threads);
        double tKnn = clock.Elapsed.TotalSeconds;

        clock.Restart();
        int m = options.Connectivity;
        var projected = new KeyGraph(keyCount, m);
        int pivots = Project(keys, keyCount, knn, sampleCount, kTrain, m, options, threads, projected, out int entry);
        int[] entries = ChooseEntryPoints(knn, sampleCount, kTrain, entry, options.EntryPoints);
        double tProject = clock.Elapsed.TotalSeconds;

        clock.Restart();
        AddReverseEdges(keys, keyCount, projected, graph, options.FillPrunedSlots, threads);
        graph.SetEntryPoints(entries);
        double tReverse = clock.Elapsed.TotalSeconds;

        clock.Restart();
        int linked = ConnectivityRepair.Connect(keys, keyCount, graph, options.BuildBeamWidth, threads, out int extraEntries);
        double tConnect = clock.Elapsed.TotalSeconds;

        return new GraphBuildStats(sampleCount, pivots, tKnn, tProject, tReverse, tConnect, linked, extraEntries);
    }

    /// <summary>A uniform-stride sample of the training queries (positions spread over the whole prefill).</summary>
    private static float[] SampleQueries(ReadOnlySpan<float> queries, int count, int dimension, double rate, out int sampleCount)
    {
        sampleCount = Math.Max(1, (int)Math.Round(count * rate));
        if (sampleCount >= count)
        {
            sampleCount = count;
            return queries[..(count * dimension)].ToArray();
        }
        var sample = new float[sampleCount * dimension];
        for (int j = 0; j < sampleCount; j++)
        {
            long source = (long)j * count / sampleCount;
            queries.Slice((int)source * dimension, dimension).CopyTo(sample.AsSpan(j * dimension));
        }
        return sample;
    }

    /// <summary>
    /// The most frequent best key first, then the best keys of training queries at an even stride over the sample
    /// (the sample is itself spread over the prefill positions), without repeats.
    /// </summary>
    private static int[] ChooseEntryPoints(int[] knn, int queryCount, int kTrain, int mostFrequent, int wanted)
    {
        var chosen = new List<int>(wanted) { mostFrequent };
        var seen = new HashSet<int> { mostFrequent };
        for (int j = 0; j < wanted - 1 && j < queryCount; j++)
        {
            int t = (int)((long)j * queryCount / Math.Max(1, wanted - 1));
            int best = knn[t * kTrain];
            if (seen.Add(best)) chosen.Add(best);
        }
        return chosen.ToArray();
    }

    /// <summary>Per-thread buffers of the projection and pruning passes.</summary>
    internal sealed class PruneBuffers(int keyCount)
    {
        public readonly int[] Stamp = new int[keyCount];
        public int[] Candidates = new int[256];
        public float[] Scores = new float[256];
        public readonly int[] Selected = new int[1024];

        /// <summary>Grows the buffers to hold n candidates, keeping the ones gathered so far.</summary>
        public void Ensure(int n)
        {
            if (Candidates.Length >= n) return;
            int size = Math.Max(n, Candidates.Length * 2);
            // Resize, not reallocate: a pivot's gathering grows the buffer mid-way, and a fresh array would turn
            // the candidates gathered so far into zeros (key 0, repeated). Which pivots hit the growth depended on
            // the parallel partitioning, so builds differed run to run, and so did their recall, depending on
            // whether a hub's list was corrupted.
            Array.Resize(ref Candidates, size);
            Scores = new float[size];
        }
    }

    private static int Project(KeyRows keys, int keyCount, int[] knn, int queryCount, int kTrain, int m,
        AttentionIndexOptions options, int threads, KeyGraph graph, out int entry)
    {
        int r = options.PivotsPerQuery == 0 ? kTrain : Math.Min(options.PivotsPerQuery, kTrain);
        int maxQueries = options.MaxQueriesPerPivot;
        bool fillSlots = options.FillPrunedSlots;
        // Group (query, rank) pairs by pivot key: CSR offsets over keys.
        var offsets = new int[keyCount + 1];
        for (int t = 0; t < queryCount; t++)
            for (int j = 0; j < r; j++) offsets[knn[t * kTrain + j] + 1]++;
        var firstCounts = new int[keyCount];
        for (int t = 0; t < queryCount; t++) firstCounts[knn[t * kTrain]]++;
        int pivots = 0;
        entry = knn[0];
        for (int p = 0; p < keyCount; p++)
        {
            if (offsets[p + 1] > 0) pivots++;
            if (firstCounts[p] > firstCounts[entry]) entry = p;
            offsets[p + 1] += offsets[p];
        }
        var byPivot = new int[offsets[keyCount]];
        var next = offsets.AsSpan(0, keyCount).ToArray();
        for (int t = 0; t < queryCount; t++)
            for (int j = 0; j < r; j++) byPivot[next[knn[t * kTrain + j]]++] = t;

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
        Parallel.For(0, keyCount, parallel, () => new PruneBuffers(keyCount), (p, _, buffers) =>
        {
            int from = offsets[p], to = offsets[p + 1];
            if (from == to) return buffers;
            // A hub key is in the lists of thousands of queries; a uniform-stride subset of them is plenty to
            // choose M edges from, and bounds the pruning cost.
            int stride = Math.Max(1, (to - from + maxQueries - 1) / maxQueries);
            int n = 0;
            int stamp = p + 1;
            buffers.Stamp[p] = stamp;
            for (int i = from; i < to; i += stride)
            {
                int t = byPivot[i];
                var row = knn.AsSpan(t * kTrain, kTrain);
                buffers.Ensure(n + row.Length);
                foreach (int c in row)
                {
                    if (buffers.Stamp[c] == stamp) continue;
                    buffers.Stamp[c] = stamp;
                    buffers.Candidates[n++] = c;
                }
            }
            int kept = RngPruning.Prune(keys, p, buffers.Candidates.AsSpan(0, n), buffers.Scores.AsSpan(0, n), m,
                buffers.Selected, fillSlots);
            graph.SetNeighbors(p, buffers.Selected.AsSpan(0, kept));
            return buffers;
        }, _ => { });
        return pivots;
    }

    private static void AddReverseEdges(KeyRows keys, int keyCount, KeyGraph projected, KeyGraph graph,
        bool fill, int threads)
    {
        var offsets = new int[keyCount + 1];
        for (int p = 0; p < keyCount; p++)
        {
            foreach (int c in projected.Neighbors(p)) offsets[c + 1]++;
        }
        for (int c = 0; c < keyCount; c++) offsets[c + 1] += offsets[c];
        var reverse = new int[offsets[keyCount]];
        var next = offsets.AsSpan(0, keyCount).ToArray();
        for (int p = 0; p < keyCount; p++)
        {
            foreach (int c in projected.Neighbors(p)) reverse[next[c]++] = p;
        }

        int m = graph.Connectivity;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
        Parallel.For(0, keyCount, parallel, () => new PruneBuffers(keyCount), (c, _, buffers) =>
        {
            int stamp = c + 1;
            buffers.Stamp[c] = stamp;
            var forward = projected.Neighbors(c);
            var backward = reverse.AsSpan(offsets[c], offsets[c + 1] - offsets[c]);
            buffers.Ensure(forward.Length + backward.Length);
            int n = 0;
            foreach (int x in forward)
            {
                if (buffers.Stamp[x] == stamp) continue;
                buffers.Stamp[x] = stamp;
                buffers.Candidates[n++] = x;
            }
            foreach (int x in backward)
            {
                if (buffers.Stamp[x] == stamp) continue;
                buffers.Stamp[x] = stamp;
                buffers.Candidates[n++] = x;
            }
            if (n <= m)
            {
                graph.SetNeighbors(c, buffers.Candidates.AsSpan(0, n));
                return buffers;
            }
            int kept = RngPruning.Prune(keys, c, buffers.Candidates.AsSpan(0, n), buffers.Scores.AsSpan(0, n), m,
                buffers.Selected, fill);
            graph.SetNeighbors(c, buffers.Selected.AsSpan(0, kept));
            return buffers;
        }, _ => { });
    }
}
