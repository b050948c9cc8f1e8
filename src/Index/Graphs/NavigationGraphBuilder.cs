using Retrieval.Index.Clustering;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Graphs;

/// <summary>
/// Builds a <see cref="NavigationGraph"/> over float32 nodes in squared-L2 geometry (cosine callers pass
/// normalised rows): exact nearest candidates per node (blocked kernel), Vamana robust pruning to the degree,
/// reverse edges merged and re-pruned, then every node made reachable from the entry (the medoid).
/// The exact candidate step is O(n^2 d): fine for the ~10^4-10^5 heads of one machine's SPANN index.
/// </summary>
public static class NavigationGraphBuilder
{
    public static NavigationGraph Build(float[] nodes, int count, int dimension, int degree, int candidates, double alpha, int threads)
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
