namespace Retrieval.Index.Attention;

/// <summary>
/// Inserts appended keys into a head's graph one at a time as they arrive, guided by recent decode queries
/// (RetrievalAttention/RoarGraph style for new base vectors). The inserter remembers the last few decode queries
/// of its head with their current top keys (from a beam search when observed). A new key u gets as candidate
/// out-neighbours (a) the keys a beam search with u itself finds and (b) the top keys of every remembered query
/// for which u would enter that query's list (q·u >= its list's worst score) — the projection rule: keys that
/// answer the same query link to each other; and the best key (pivot) of each such query links to u, so the
/// queries that want u reach it (when the pivot has a free slot). Candidates are RNG-pruned to M, reverse edges added (full lists re-pruned), and
/// a key no list kept hangs off the nearest free slot. Because re-pruning can drop the only edge into some older
/// key, a connectivity repair runs every <see cref="AttentionIndexOptions.AppendFoldBatch"/> insertions.
/// Not thread-safe: the owner serialises it with searches (the KV cache's write lock).
/// </summary>
internal sealed unsafe class QueryGuidedInserter
{
    private readonly int _listLength;
    private readonly int _capacity;
    private readonly int _dimension;
    private readonly float[] _queries;
    private readonly int[] _lists;
    private readonly float[] _listScores;
    private int _count;
    private int _next;
    private int _sinceRepair;

    private int[] _candidates = new int[256];
    private float[] _work = new float[256];
    private readonly int[] _selected;
    private readonly int[] _merged;
    private readonly int[] _repruned;
    private int _stampEpoch;
    private ConnectivityRepair.HostSearch? _hosts;

    public QueryGuidedInserter(int dimension, int connectivity, int recentQueries, int listLength)
    {
        _dimension = dimension;
        _capacity = recentQueries;
        _listLength = listLength;
        _queries = new float[recentQueries * dimension];
        _lists = new int[recentQueries * listLength];
        _listScores = new float[recentQueries * listLength];
        _selected = new int[connectivity];
        _merged = new int[connectivity + 1];
        _repruned = new int[connectivity];
    }

    public int RememberedQueries => _count;

    /// <summary>Remembers a decode query with its current top keys (found with a beam search on the graph).</summary>
    public void Observe(KeyGraph graph, KeyRows keys, ReadOnlySpan<float> query, int beamWidth, BeamSearchScratch scratch)
    {
        int slot = _next;
        _next = (_next + 1) % _capacity;
        if (_count < _capacity) _count++;
        query.CopyTo(_queries.AsSpan(slot * _dimension, _dimension));
        GraphSearch.Run(graph, keys, query, Math.Max(beamWidth, _listLength), 0, int.MaxValue, scratch);
        var ids = _lists.AsSpan(slot * _listLength, _listLength);
        var scores = _listScores.AsSpan(slot * _listLength, _listLength);
        scratch.DrainTop(_listLength, ids, scores);
    }

    /// <summary>Links key <paramref name="u"/> (already in the store, graph grown to include it) into the graph.</summary>
    public void Insert(KeyGraph graph, KeyRows keys, int u, int beamWidth, int repairEvery, BeamSearchScratch scratch)
    {
        int m = graph.Connectivity;
        int d = _dimension;
        var key = new ReadOnlySpan<float>(keys.Row(u), d);
        int ef = Math.Max(beamWidth, m);
        EnsureCandidates(ef + _count * _listLength);
        var stamp = StampFor(graph.NodeCount);
        int epoch = NextEpoch();
        stamp[u] = epoch;

        // (a) neighbours by the key itself.
        GraphSearch.Run(graph, keys, key, ef, 0, u, scratch);
        int n = scratch.DrainTop(ef, _candidates.AsSpan(0, ef), _work.AsSpan(0, ef));
        for (int i = 0; i < n; i++) stamp[_candidates[i]] = epoch;

        // (b) the lists of the remembered queries that u enters.
        Span<int> pivots = stackalloc int[Math.Min(_count, 256)];
        int pivotCount = 0;
        for (int r = 0; r < _count; r++)
        {
            var query = _queries.AsSpan(r * d, d);
            var list = _lists.AsSpan(r * _listLength, _listLength);
            var listScores = _listScores.AsSpan(r * _listLength, _listLength);
            float s = GraphSearch.Score(keys, query, u);
            int worst = _listLength - 1;
            if (list[worst] >= 0 && !(s > listScores[worst])) continue;
            foreach (int c in list)
            {
                if (c < 0 || stamp[c] == epoch) continue;
                stamp[c] = epoch;
                _candidates[n++] = c;
            }
            if (list[0] >= 0 && pivotCount < pivots.Length) pivots[pivotCount++] = list[0];
            // u takes its place in the list (kept sorted, best first).
            int pos = worst;
            while (pos > 0 && (list[pos - 1] < 0 || listScores[pos - 1] < s))
            {
                list[pos] = list[pos - 1];
                listScores[pos] = listScores[pos - 1];
                pos--;
            }
            list[pos] = u;
            listScores[pos] = s;
        }

        if (n > 0)
        {
            int kept = RngPruning.Prune(keys, u, _candidates.AsSpan(0, n), _work.AsSpan(0, n), m, _selected, fill: true);
            graph.SetNeighbors(u, _selected.AsSpan(0, kept));
            bool linkedIn = false;
            for (int i = 0; i < pivotCount; i++)
            {
                int p = pivots[i];
                if (p == u) continue;
                // Only into a free slot: pivots are hubs whose full lists hold the projection's query-guided edges,
                // and re-pruning them for every new key erodes those, which costs recall.
                if (graph.TryAddEdge(p, u)) linkedIn = true;
            }
            for (int i = 0; i < kept; i++)
            {
                int c = _selected[i];
                if (graph.TryAddEdge(c, u) || RepruneWith(keys, graph, c, u)) linkedIn = true;
            }
            if (!linkedIn)
            {
                _hosts ??= new ConnectivityRepair.HostSearch(graph.NodeCount);
                _hosts.EnsureCapacity(graph.NodeCount);
                // Extra entry points split every later search's beam, so as a last resort the best candidate's
                // last edge gives way (its old target is re-linked by the next repair if it was its only way in).
                if (!ConnectivityRepair.TryLinkToFreeSlot(graph, _candidates.AsSpan(0, n), u, null, _hosts))
                    graph.NeighborSlots(_candidates[0])[graph.Degree(_candidates[0]) - 1] = u;
            }
        }
        else
        {
            graph.AddEntryPoint(u);
        }

        if (++_sinceRepair >= repairEvery)
        {
            _sinceRepair = 0;
            ConnectivityRepair.Connect(keys, graph.NodeCount, graph, beamWidth, 1, out _);
        }
    }

    private bool RepruneWith(KeyRows keys, KeyGraph graph, int c, int u)
    {
        var current = graph.Neighbors(c);
        current.CopyTo(_merged);
        _merged[current.Length] = u;
        int n = current.Length + 1;
        EnsureCandidates(n);
        int kept = RngPruning.Prune(keys, c, _merged.AsSpan(0, n), _work.AsSpan(0, n), graph.Connectivity, _repruned, fill: true);
        var list = _repruned.AsSpan(0, kept);
        graph.SetNeighbors(c, list);
        return list.Contains(u);
    }

    private void EnsureCandidates(int n)
    {
        if (_candidates.Length >= n) return;
        int size = Math.Max(n, _candidates.Length * 2);
        _candidates = new int[size];
        _work = new float[size];
    }

    private int[] _stampArray = [];

    private int[] StampFor(int nodeCount)
    {
        if (_stampArray.Length < nodeCount)
        {
            Array.Resize(ref _stampArray, Math.Max(nodeCount, _stampArray.Length + _stampArray.Length / 2 + 1024));
        }
        return _stampArray;
    }

    private int NextEpoch()
    {
        if (++_stampEpoch == int.MaxValue)
        {
            Array.Clear(_stampArray);
            _stampEpoch = 1;
        }
        return _stampEpoch;
    }
}
