using System.Diagnostics;

namespace Retrieval.Index.Attention;

/// <summary>Timings and counts of one build, for benchmarks and diagnostics.</summary>
public sealed record GraphBuildStats(
    int TrainingQueries,
    int Pivots,
    double TrainingNeighborsSeconds,
    double ProjectionSeconds,
    double ReverseEdgesSeconds,
    double ConnectivitySeconds,
    int ConnectivityEdges,
    int ExtraEntryPoints)
{
    public double TotalSeconds => TrainingNeighborsSeconds + ProjectionSeconds + ReverseEdgesSeconds + ConnectivitySeconds;
}

/// <summary>
/// RoarGraph projection of the training-query -> key bipartite graph onto keys (Chen et al., VLDB 2024):
/// each training query's best key becomes a pivot whose candidate neighbours are the query's other top
/// k_train keys; candidates are pruned RNG-style to M; reverse edges are added and overflowing lists
/// re-pruned; finally a connectivity pass links every key not reachable from the entry point.
/// </summary>
internal static unsafe class RoarGraphBuilder
{
    /// <summary>Candidates remembered per unreachable key during a connectivity round.</summary>
    private const int ConnectivityCandidates = 16;

    /// <summary>Unreachable keys searched per parallel step of the connectivity pass.</summary>
    private const int ConnectivityChunk = 512;

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
        int linked = Connect(keys, keyCount, graph, options.BuildBeamWidth, threads, out int extraEntries);
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

    /// <summary>
    /// Makes every key reachable from the entry points. Rounds of: search (in parallel, on the frozen graph) for
    /// each unreachable key, using the key itself as the query, the reachable keys that score it highest; then,
    /// sequentially, link the first of them that has a free slot to the key and mark what became reachable. When
    /// all candidates are full, the candidate edge whose target has the most other in-edges gives way (its target
    /// very likely stays reachable); whatever a swap does disconnect is caught by the next round. Keys still
    /// unreachable after a few rounds become extra entry points.
    /// </summary>
    internal static int Connect(KeyRows keys, int keyCount, KeyGraph graph, int beamWidth, int threads,
        out int extraEntryPoints)
    {
        var reached = new bool[keyCount];
        var queue = new int[keyCount];
        var inDegree = new int[keyCount];
        for (int p = 0; p < keyCount; p++)
            foreach (int c in graph.Neighbors(p)) inDegree[c]++;
        int linked = 0;
        extraEntryPoints = 0;
        int ef = Math.Max(beamWidth, ConnectivityCandidates);
        var search = new HostSearch(keyCount);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
        var chunk = new int[ConnectivityChunk];
        // Search scratches (each with a visited array over all keys) are reused across chunks, not allocated per chunk.
        var scratches = new System.Collections.Concurrent.ConcurrentBag<BeamSearchScratch>();
        var candidates = new int[ConnectivityChunk * ConnectivityCandidates];
        for (int round = 0; round < 4; round++)
        {
            int reachedCount = graph.MarkReachable(reached);
            if (reachedCount == keyCount) return linked;
            // Chunks of still-unreachable keys: search a chunk in parallel on the frozen graph, then link it
            // sequentially. Linking one key often makes a whole cut-off subtree reachable, so keys are searched
            // only while they are still unreachable (after a fold that is a few hundred, not the whole subtree).
            int next = 0;
            // Chunk size adapts: after a fold most unreachable keys hang below a few cut-off roots, so searching
            // ahead is mostly wasted; after a build most are singletons and wide parallel chunks pay.
            int chunkSize = 16;
            while (true)
            {
                int n = 0;
                for (; next < keyCount && n < chunkSize; next++)
                    if (!reached[next]) chunk[n++] = next;
                if (n == 0) break;
                Parallel.For(0, n, parallel, () => scratches.TryTake(out var reused) ? reused : new BeamSearchScratch(), (i, _, scratch) =>
                {
                    int key = chunk[i];
                    GraphSearch.Run(graph, keys, new ReadOnlySpan<float>(keys.Row(key), keys.Dimension), ef, 0, int.MaxValue, scratch);
                    Span<float> scores = stackalloc float[ConnectivityCandidates];
                    scratch.DrainTop(ConnectivityCandidates, candidates.AsSpan(i * ConnectivityCandidates, ConnectivityCandidates), scores);
                    return scratch;
                }, scratches.Add);
                int linkedHere = 0;
                for (int i = 0; i < n; i++)
                {
                    int key = chunk[i];
                    if (reached[key]) continue;
                    var mine = candidates.AsSpan(i * ConnectivityCandidates, ConnectivityCandidates);
                    if (!LinkFrom(graph, mine, key, reached, inDegree, search)) continue;
                    linked++;
                    linkedHere++;
                    graph.MarkReachableFrom(key, reached, queue);
                }
                chunkSize = linkedHere * 2 >= n ? Math.Min(chunk.Length, chunkSize * 2) : Math.Max(4, chunkSize / 2);
            }
        }
        // Last resort: whatever is still cut off starts searches itself.
        int count = graph.MarkReachable(reached);
        for (int i = 0; i < keyCount && count < keyCount; i++)
        {
            if (reached[i]) continue;
            graph.AddEntryPoint(i);
            extraEntryPoints++;
            count += graph.MarkReachableFrom(i, reached, queue);
        }
        return linked;
    }

    /// <summary>Breadth-first state for finding a host with a free slot near the preferred hosts.</summary>
    internal sealed class HostSearch(int keyCount)
    {
        public const int Budget = 256;
        public int[] Stamp = new int[keyCount];
        public readonly int[] Queue = new int[Budget + 1024 * 4];
        public int Epoch;

        private int[]? _delegates;

        public void EnsureCapacity(int keyCount)
        {
            if (Stamp.Length < keyCount) Array.Resize(ref Stamp, Math.Max(keyCount, Stamp.Length + Stamp.Length / 2));
        }

        /// <summary>Per host: the node with a free slot that last took a key for it (-1: none yet).</summary>
        public int[] DelegatesFor(int keyCount)
        {
            if (_delegates is null || _delegates.Length < keyCount)
            {
                int old = _delegates?.Length ?? 0;
                Array.Resize(ref _delegates, Math.Max(keyCount, old + old / 2));
                _delegates.AsSpan(old).Fill(-1);
            }
            return _delegates;
        }
    }

    /// <summary>
    /// Adds an edge to <paramref name="key"/> from the first of <paramref name="hosts"/> with a free slot, else from
    /// the nearest node with a free slot breadth-first from them (never dropping an edge). All graph nodes count
    /// as reachable when <paramref name="reached"/> is null. Returns false when no free slot was found in budget.
    /// </summary>
    internal static bool TryLinkToFreeSlot(KeyGraph graph, ReadOnlySpan<int> hosts, int key, bool[]? reached, HostSearch search)
    {
        int m = graph.Connectivity;
        foreach (int c in hosts)
        {
            if (c >= 0 && c != key && (reached is null || reached[c]) && graph.Degree(c) < m && graph.TryAddEdge(c, key)) return true;
        }
        // The best host is full (hubs are): try the node that last took a key for it. Without this memory every
        // cold key near a hub searched breadth first for a free slot again, which on real attention keys was
        // about half the connectivity pass.
        int best = -1;
        foreach (int c in hosts)
        {
            if (c >= 0 && c != key && (reached is null || reached[c])) { best = c; break; }
        }
        int[]? delegates = reached is null || best < 0 ? null : search.DelegatesFor(graph.NodeCount);
        if (delegates is not null)
        {
            int d = delegates[best];
            if (d >= 0 && d != key && reached![d] && graph.TryAddEdge(d, key))
            {
                if (graph.Degree(d) == m) delegates[best] = key;
                return true;
            }
        }
        int epoch = ++search.Epoch;
        int head = 0, tail = 0;
        foreach (int c in hosts)
        {
            if (c < 0 || (reached is not null && !reached[c]) || search.Stamp[c] == epoch) continue;
            search.Stamp[c] = epoch;
            search.Queue[tail++] = c;
        }
        while (head < tail && head < HostSearch.Budget)
        {
            int node = search.Queue[head++];
            foreach (int n in graph.Neighbors(node))
            {
                if (search.Stamp[n] == epoch || (reached is not null && !reached[n]) || n == key) continue;
                search.Stamp[n] = epoch;
                if (graph.Degree(n) < m && graph.TryAddEdge(n, key))
                {
                    if (delegates is not null) delegates[best] = graph.Degree(n) < m ? n : key;
                    return true;
                }
                if (tail < search.Queue.Length) search.Queue[tail++] = n;
            }
        }
        return false;
    }

    /// <summary>
    /// Links <paramref name="key"/> from a reachable host: the best-scoring candidate with a free slot, else the
    /// nearest node with a free slot breadth-first from the candidates (hub slots hold the query-guided edges that
    /// make search work; a cold key can hang off a less busy node), else, as a last resort, the candidate edge
    /// whose target has the most other in-edges gives way.
    /// </summary>
    private static bool LinkFrom(KeyGraph graph, ReadOnlySpan<int> hosts, int key, bool[] reached, int[] inDegree,
        HostSearch search)
    {
        if (TryLinkToFreeSlot(graph, hosts, key, reached, search))
        {
            inDegree[key]++;
            return true;
        }
        int bestHost = -1, bestSlot = -1, bestInDegree = 1;
        foreach (int c in hosts)
        {
            if (c < 0 || !reached[c]) continue;
            var slots = graph.NeighborSlots(c)[..graph.Degree(c)];
            for (int s = 0; s < slots.Length; s++)
            {
                if (inDegree[slots[s]] > bestInDegree) { bestInDegree = inDegree[slots[s]]; bestHost = c; bestSlot = s; }
            }
        }
        if (bestHost < 0) return false;
        var hostSlots = graph.NeighborSlots(bestHost);
        inDegree[hostSlots[bestSlot]]--;
        hostSlots[bestSlot] = key;
        inDegree[key]++;
        return true;
    }
}
