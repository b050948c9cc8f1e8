using Retrieval.Index.Clustering;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Graphs;

/// <summary>
/// Builds a <see cref="NavigationGraph"/> over float32 nodes in squared-L2 geometry (cosine callers pass
/// normalised rows): exact nearest candidates per node (blocked kernel), Vamana robust pruning to the degree,
/// reverse edges merged and re-pruned, then every node made reachable from the entry (the medoid).
/// The exact candidate step is O(n^2 d), so above <see cref="ExactCandidatesMaxNodes"/> nodes the candidates come
/// from Vamana-style insertion instead (<see cref="BuildByInsertion"/>): O(n x beam x degree x d).
/// </summary>
internal static class NavigationGraphBuilder
{
    /// <summary>Node count up to which candidates are found exactly (one blocked all-pairs scan is cheaper than searches).</summary>
    public const int ExactCandidatesMaxNodes = 4096;

    public static NavigationGraph Build(float[] nodes, int count, int dimension, int degree, int candidates, double alpha, int threads) =>
        count > ExactCandidatesMaxNodes
            ? BuildByInsertion(nodes, count, dimension, degree, candidates, alpha, threads)
            : BuildExact(nodes, count, dimension, degree, candidates, alpha, threads);

    /// <summary>
    /// Vamana/HNSW-style construction: nodes inserted in a seeded random order (the first few thousand one at a
    /// time, the rest in parallel), each one's candidates the beam of a search of the graph built so far, pruned
    /// to its out-edges, with a reverse edge added to each neighbour (re-pruned when full). A final connectivity
    /// repair uses each node's search candidates. Per-node locks guard edge lists; a search may read a list while
    /// it changes, which costs at most a stale edge (every entry is always a valid id or -1).
    /// </summary>
    public static NavigationGraph BuildByInsertion(float[] nodes, int count, int dimension, int degree, int beamWidth, double alpha, int threads)
    {
        degree = Math.Max(1, Math.Min(degree, Math.Max(1, count - 1)));
        int d = dimension;
        var adjacency = new int[count * degree];
        Array.Fill(adjacency, -1);
        if (count <= 1) return new NavigationGraph(count, degree, 0, adjacency);
        int entry = Medoid(nodes, count, d);
        var graph = new NavigationGraph(count, degree, entry, adjacency);
        float alphaSquared = (float)(alpha * alpha);
        int beam = Math.Max(beamWidth, degree);
        const int Kept = 16;
        var candidateIds = new int[count * Kept];
        Array.Fill(candidateIds, -1);
        var locks = new object[count];
        for (int i = 0; i < count; i++) locks[i] = new object();
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        new Random(count).Shuffle(order);
        // The entry goes first so early searches have somewhere to start.
        int at = Array.IndexOf(order, entry);
        (order[0], order[at]) = (order[at], order[0]);

        void Insert(int p, Worker w)
        {
            nodes.AsSpan(p * d, d).CopyTo(w.Query);
            var scorer = new Float32L2Scorer { Nodes = nodes, Query = w.Query, Dimension = d };
            int found = graph.Search(ref scorer, beam, beam, w.Scratch, w.Ids, w.Goodness, [entry]);
            w.CandidateIds.Clear();
            w.CandidateDistances.Clear();
            for (int i = 0; i < found; i++)
            {
                if (w.Ids[i] == p) continue;
                w.CandidateIds.Add(w.Ids[i]);
                w.CandidateDistances.Add(-w.Goodness[i]);
            }
            for (int i = 0; i < Math.Min(Kept, w.CandidateIds.Count); i++) candidateIds[p * Kept + i] = w.CandidateIds[i];
            var kept = Prune(nodes, d, w.CandidateIds, w.CandidateDistances, degree, alphaSquared);
            lock (locks[p]) WriteEdges(adjacency, p, degree, kept);
            foreach (int q in kept)
            {
                lock (locks[q])
                {
                    var edges = adjacency.AsSpan(q * degree, degree);
                    if (edges.Contains(p)) continue;
                    int free = edges.IndexOf(-1);
                    if (free >= 0) { edges[free] = p; continue; }
                    var ids = new List<int>(degree + 1);
                    var dists = new List<float>(degree + 1);
                    foreach (int c in edges) { ids.Add(c); dists.Add(SquaredL2(nodes, d, q, c)); }
                    ids.Add(p);
                    dists.Add(SquaredL2(nodes, d, q, p));
                    SortByDistance(ids, dists);
                    WriteEdges(adjacency, q, degree, Prune(nodes, d, ids, dists, degree, alphaSquared));
                }
            }
        }

        int serial = Math.Min(count, 2048);
        var first = new Worker(d, beam);
        for (int i = 0; i < serial; i++) Insert(order[i], first);
        Parallel.For(serial, count, new ParallelOptions { MaxDegreeOfParallelism = threads },
            () => new Worker(d, beam),
            (i, _, w) => { Insert(order[i], w); return w; },
            _ => { });

        for (int round = 0; round < 16 && !Connect(count, degree, adjacency, entry, candidateIds, Kept); round++) { }
        return new NavigationGraph(count, degree, entry, adjacency);
    }

    private static void WriteEdges(int[] adjacency, int node, int degree, int[] edges)
    {
        var row = adjacency.AsSpan(node * degree, degree);
        row.Fill(-1);
        edges.AsSpan(0, Math.Min(degree, edges.Length)).CopyTo(row);
    }

    private sealed class Worker(int dimension, int beam)
    {
        public readonly float[] Query = new float[dimension];
        public readonly int[] Ids = new int[beam];
        public readonly float[] Goodness = new float[beam];
        public readonly GraphSearchScratch Scratch = new();
        public readonly List<int> CandidateIds = new(beam);
        public readonly List<float> CandidateDistances = new(beam);
    }

    public static NavigationGraph BuildExact(float[] nodes, int count, int dimension, int degree, int candidates, double alpha, int threads)
    {
        degree = Math.Max(1, Math.Min(degree, Math.Max(1, count - 1)));
        int d = dimension;
        var adjacency = new int[count * degree];
        Array.Fill(adjacency, -1);
        if (count <= 1) return new NavigationGraph(count, degree, 0, adjacency);

        int k = Math.Min(count, candidates + 1);
        var knn = NearestCentroids.Find(nodes, count, nodes, count, d, k, threads);
        float alphaSquared = (float)(alpha * alpha);
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };

        // Forward edges: robust-prune each node's exact candidates.
        var forward = new int[count][];
        Parallel.For(0, count, options, p =>
        {
            var ids = new List<int>(k);
            var dists = new List<float>(k);
            for (int j = 0; j < knn.K; j++)
            {
                int c = knn.Ids[p * knn.K + j];
                if (c < 0 || c == p) continue;
                ids.Add(c);
                dists.Add(knn.Scores[p * knn.K + j]);
            }
            forward[p] = Prune(nodes, d, ids, dists, degree, alphaSquared);
        });

        // Reverse edges, then one merged prune per node.
        var reverse = new List<int>[count];
        for (int p = 0; p < count; p++) reverse[p] = new List<int>();
        for (int p = 0; p < count; p++) foreach (int c in forward[p]) reverse[c].Add(p);
        Parallel.For(0, count, options, p =>
        {
            var ids = new List<int>(forward[p].Length + reverse[p].Count);
            var seen = new HashSet<int>();
            foreach (int c in forward[p]) if (seen.Add(c)) ids.Add(c);
            foreach (int c in reverse[p]) if (c != p && seen.Add(c)) ids.Add(c);
            var dists = new List<float>(ids.Count);
            foreach (int c in ids) dists.Add(SquaredL2(nodes, d, p, c));
            SortByDistance(ids, dists);
            var kept = Prune(nodes, d, ids, dists, degree, alphaSquared);
            kept.CopyTo(adjacency, p * degree);
        });

        int entry = Medoid(nodes, count, d);
        // Replacing an edge during repair can cut off a node reached only through it: repeat until a fresh walk reaches all.
        for (int round = 0; round < 16 && !Connect(count, degree, adjacency, entry, knn.Ids, knn.K); round++) { }
        return new NavigationGraph(count, degree, entry, adjacency);
    }

    /// <summary>Vamana's RobustPrune over candidates sorted by distance: keep c unless a kept s has alpha^2 d(s,c) &lt;= d(p,c).</summary>
    private static int[] Prune(float[] nodes, int d, List<int> ids, List<float> dists, int degree, float alphaSquared)
    {
        var kept = new List<int>(degree);
        for (int i = 0; i < ids.Count && kept.Count < degree; i++)
        {
            int c = ids[i];
            bool keep = true;
            foreach (int s in kept)
            {
                if (alphaSquared * SquaredL2(nodes, d, s, c) <= dists[i]) { keep = false; break; }
            }
            if (keep) kept.Add(c);
        }
        // Fill remaining slots with the nearest pruned candidates: spare degree costs nothing at search and helps recall.
        for (int i = 0; i < ids.Count && kept.Count < degree; i++) if (!kept.Contains(ids[i])) kept.Add(ids[i]);
        return kept.ToArray();
    }

    private static void SortByDistance(List<int> ids, List<float> dists)
    {
        var idArray = ids.ToArray();
        var distArray = dists.ToArray();
        Array.Sort(distArray, idArray);
        ids.Clear(); ids.AddRange(idArray);
        dists.Clear(); dists.AddRange(distArray);
    }

    private static float SquaredL2(float[] nodes, int d, int a, int b) =>
        DenseKernels.SquaredL2(nodes.AsSpan(a * d, d), nodes.AsSpan(b * d, d));

    private static int Medoid(float[] nodes, int count, int d)
    {
        var mean = new float[d];
        for (int i = 0; i < count; i++)
        {
            var row = nodes.AsSpan(i * d, d);
            for (int t = 0; t < d; t++) mean[t] += row[t];
        }
        for (int t = 0; t < d; t++) mean[t] /= count;
        int best = 0;
        float bestDistance = float.PositiveInfinity;
        for (int i = 0; i < count; i++)
        {
            float dist = DenseKernels.SquaredL2(mean, nodes.AsSpan(i * d, d));
            if (dist < bestDistance) { bestDistance = dist; best = i; }
        }
        return best;
    }

    /// <summary>
    /// Makes every node reachable from the entry: an unreached node gets an in-edge from its nearest reached
    /// candidate (replacing that node's last, longest edge when its list is full), repeated until all are reached.
    /// </summary>
    private static bool Connect(int count, int degree, int[] adjacency, int entry, int[] knnIds, int knnK)
    {
        bool complete = true;
        var reached = new bool[count];
        var queue = new Queue<int>();
        void Walk(int from)
        {
            queue.Enqueue(from);
            reached[from] = true;
            while (queue.Count > 0)
            {
                int p = queue.Dequeue();
                for (int e = 0; e < degree; e++)
                {
                    int c = adjacency[p * degree + e];
                    if (c < 0) break;
                    if (!reached[c]) { reached[c] = true; queue.Enqueue(c); }
                }
            }
        }
        Walk(entry);
        for (int u = 0; u < count; u++)
        {
            if (reached[u]) continue;
            complete = false;
            int from = entry;
            for (int j = 0; j < knnK; j++)
            {
                int c = knnIds[u * knnK + j];
                if (c >= 0 && c != u && reached[c]) { from = c; break; }
            }
            int slot = -1;
            for (int e = 0; e < degree; e++) if (adjacency[from * degree + e] < 0) { slot = e; break; }
            if (slot < 0) slot = degree - 1;
            adjacency[from * degree + slot] = u;
            Walk(u);
        }
        return complete;
    }
}
