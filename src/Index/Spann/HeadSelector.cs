using System.Numerics.Tensors;
using Retrieval.Index.Clustering;

namespace Retrieval.Index.Spann;

/// <summary>
/// Picks SPANN's head vectors: hierarchical balanced k-means over the sample (a first level of about sqrt(H)
/// clusters, then each cluster split into heads in proportion to its size, so no level is expensive), each
/// final centroid snapped to its nearest real member so every head is a vector of the input.
/// </summary>
internal static class HeadSelector
{
    /// <summary>Sample row indices of <paramref name="headCount"/> heads, distinct, ascending.</summary>
    public static int[] Select(float[] sample, int sampleCount, int dimension, int headCount, SpannBuildOptions options)
    {
        headCount = Math.Clamp(headCount, 1, sampleCount);
        var kmeans = new BalancedKMeansOptions
        {
            Iterations = options.KMeansIterations,
            BalancePenalty = options.BalancePenalty,
            Seed = options.Seed,
        };
        int threads = options.ThreadCount;
        int top = Math.Clamp((int)Math.Round(Math.Sqrt(headCount)), 1, headCount);
        var level1 = BalancedKMeans.Cluster(sample, sampleCount, dimension, top, kmeans, threads);

        // Members of each first-level cluster, and how many heads each gets (largest-remainder apportionment).
        var members = GroupMembers(level1.Assignment, top);
        var quota = Apportion(level1.Sizes, headCount);
        var heads = new int[headCount];
        var offsets = new int[top + 1];
        for (int c = 0; c < top; c++) offsets[c + 1] = offsets[c] + quota[c];

        Parallel.For(0, top, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            var rows = members[c];
            int want = quota[c];
            if (want == 0) return;
            var local = new float[(long)rows.Length * dimension];
            for (int i = 0; i < rows.Length; i++) sample.AsSpan(rows[i] * dimension, dimension).CopyTo(local.AsSpan(i * dimension, dimension));
            var split = BalancedKMeans.Cluster(local, rows.Length, dimension, want, kmeans with { Seed = kmeans.Seed + c + 1 }, 1);
            var snapped = Snap(local, rows.Length, dimension, split);
            for (int h = 0; h < want; h++) heads[offsets[c] + h] = rows[snapped[h]];
        });
        Array.Sort(heads);
        return heads;
    }

    /// <summary>For each centroid, its nearest member (members are disjoint, so heads are distinct); an empty cluster takes any unused row.</summary>
    private static int[] Snap(float[] rows, int count, int d, ClusteringResult clusters)
    {
        int k = clusters.ClusterCount;
        var best = new int[k];
        var bestDistance = new float[k];
        Array.Fill(best, -1);
        Array.Fill(bestDistance, float.PositiveInfinity);
        for (int i = 0; i < count; i++)
        {
            int c = clusters.Assignment[i];
            float dist = TensorPrimitives.Distance(rows.AsSpan(i * d, d), clusters.Centroids.AsSpan(c * d, d));
            if (dist < bestDistance[c]) { bestDistance[c] = dist; best[c] = i; }
        }
        var used = new bool[count];
        foreach (int b in best) if (b >= 0) used[b] = true;
        int next = 0;
        for (int c = 0; c < k; c++)
        {
            if (best[c] >= 0) continue;
            while (used[next]) next++;
            best[c] = next;
            used[next] = true;
        }
        return best;
    }

    private static int[][] GroupMembers(int[] assignment, int clusters)
    {
        var counts = new int[clusters];
        foreach (int c in assignment) counts[c]++;
        var groups = new int[clusters][];
        for (int c = 0; c < clusters; c++) groups[c] = new int[counts[c]];
        Array.Clear(counts);
        for (int i = 0; i < assignment.Length; i++) groups[assignment[i]][counts[assignment[i]]++] = i;
        return groups;
    }

    /// <summary>Splits <paramref name="total"/> heads over clusters in proportion to size, never more than a cluster's size.</summary>
    internal static int[] Apportion(int[] sizes, int total)
    {
        long all = 0;
        foreach (int s in sizes) all += s;
        var quota = new int[sizes.Length];
        var remainder = new double[sizes.Length];
        int given = 0;
        for (int c = 0; c < sizes.Length; c++)
        {
            double exact = (double)total * sizes[c] / Math.Max(1, all);
            quota[c] = Math.Min(sizes[c], (int)Math.Floor(exact));
            remainder[c] = exact - quota[c];
            given += quota[c];
        }
        while (given < total)
        {
            int pick = -1;
            for (int c = 0; c < sizes.Length; c++)
                if (quota[c] < sizes[c] && (pick < 0 || remainder[c] > remainder[pick])) pick = c;
            if (pick < 0) break;
            quota[pick]++;
            remainder[pick] -= 1;
            given++;
        }
        return quota;
    }
}
