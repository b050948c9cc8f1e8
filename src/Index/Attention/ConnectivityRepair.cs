namespace Retrieval.Index.Attention;

/// <summary>
/// The connectivity pass of a key graph: after the RoarGraph projection (and after appended keys are inserted),
/// links every key that cannot be reached from the entry points, preferring hosts with a free slot so that the
/// query-guided edges in full hub lists survive.
/// </summary>
internal static unsafe class ConnectivityRepair
{
    /// <summary>Candidates remembered per unreachable key during a connectivity round.</summary>
    private const int ConnectivityCandidates = 16;

    /// <summary>Unreachable keys searched per parallel step of the connectivity pass.</summary>
    private const int ConnectivityChunk = 512;

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
