using System.Numerics.Tensors;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Clustering;

/// <summary>Options of <see cref="BalancedKMeans"/>.</summary>
internal sealed record BalancedKMeansOptions
{
    public const int DefaultIterations = 10;
    public const double DefaultBalancePenalty = 1.0;
    public const int DefaultCandidates = 8;

    /// <summary>Lloyd iterations (assignment + centroid update).</summary>
    public int Iterations { get; init; } = DefaultIterations;

    /// <summary>
    /// Weight of the cluster-size penalty (SPANN's lambda): a row picks the centroid minimising
    /// d(x, c) + penalty * meanNearestDistance * size(c) / (n / k), so a cluster at average size costs one
    /// mean distance extra and clusters come out balanced. 0 gives plain k-means.
    /// </summary>
    public double BalancePenalty { get; init; } = DefaultBalancePenalty;

    /// <summary>Nearest centroids considered per row by the penalised choice.</summary>
    public int Candidates { get; init; } = DefaultCandidates;

    public int Seed { get; init; } = 1;

    public void Validate()
    {
        if (Iterations < 1) Guard.ThrowInvalid($"k-means iterations must be >= 1, got {Iterations}");
        if (!(BalancePenalty >= 0) || double.IsInfinity(BalancePenalty)) Guard.ThrowInvalid($"balance penalty must be finite and >= 0, got {BalancePenalty}");
        if (Candidates < 1) Guard.ThrowInvalid($"k-means candidates must be >= 1, got {Candidates}");
    }
}

/// <summary>Centroids (k x d, row-major) and each row's cluster.</summary>
internal sealed record ClusteringResult(float[] Centroids, int ClusterCount, int[] Assignment, int[] Sizes);

/// <summary>
/// K-means with a cluster-size penalty in the assignment step (the balanced k-means SPANN uses to get postings
/// of similar length). Squared-L2 geometry; cosine callers pass normalised rows. Public (with its options and
/// result) only for the IVF-Flat benchmark peer in Retrieval.Query; internal once that peer moves to the bench library.
/// </summary>
internal static class BalancedKMeans
{
    public static ClusteringResult Cluster(float[] rows, int rowCount, int dimension, int clusterCount, BalancedKMeansOptions options, int threads)
    {
        options.Validate();
        if (rowCount < 1) Guard.ThrowInvalid("k-means needs at least one row");
        if (clusterCount < 1 || clusterCount > rowCount) Guard.ThrowInvalid($"cluster count must be in 1..{rowCount}, got {clusterCount}");
        int d = dimension, k = clusterCount;
        var centroids = new float[(long)k * d];
        var rng = new Random(options.Seed);

        // Initial centroids: distinct random rows (k-means++ costs k passes; the balanced iterations fix a poor start).
        var picked = SampleDistinct(rng, rowCount, k);
        for (int c = 0; c < k; c++) rows.AsSpan(picked[c] * d, d).CopyTo(centroids.AsSpan(c * d, d));

        var assignment = new int[rowCount];
        var sizes = new int[k];
        if (k == 1)
        {
            Update(rows, rowCount, d, centroids, 1, assignment, sizes);
            return new ClusteringResult(centroids, 1, assignment, sizes);
        }
        var previous = new int[k];
        for (int iteration = 0; iteration < options.Iterations; iteration++)
        {
            var nearest = NearestCentroids.Find(rows, rowCount, centroids, k, d, options.Candidates, threads);
            int candidates = nearest.K;
            double meanNearest = 0;
            for (int i = 0; i < rowCount; i++) meanNearest += nearest.Scores[i * candidates];
            meanNearest /= rowCount;
            // The penalty uses the previous iteration's sizes (the first iteration sees all clusters equal).
            if (iteration == 0) Array.Fill(previous, rowCount / k);
            else Array.Copy(sizes, previous, k);
            double lambda = options.BalancePenalty * meanNearest / Math.Max(1.0, (double)rowCount / k);
            Array.Clear(sizes);
            for (int i = 0; i < rowCount; i++)
            {
                int best = -1;
                double bestCost = double.PositiveInfinity;
                for (int j = 0; j < candidates; j++)
                {
                    int c = nearest.Ids[i * candidates + j];
                    if (c < 0) break;
                    double cost = nearest.Scores[i * candidates + j] + lambda * previous[c];
                    if (cost < bestCost) { bestCost = cost; best = c; }
                }
                assignment[i] = best;
                sizes[best]++;
            }
            Update(rows, rowCount, d, centroids, k, assignment, sizes);
            Reseed(rows, rowCount, d, centroids, k, assignment, sizes, rng);
        }
        return new ClusteringResult(centroids, k, assignment, sizes);
    }

    private static void Update(float[] rows, int rowCount, int d, float[] centroids, int k, int[] assignment, int[] sizes)
    {
        var sums = new double[(long)k * d];
        Array.Clear(sizes);
        for (int i = 0; i < rowCount; i++)
        {
            int c = assignment[i];
            sizes[c]++;
            var row = rows.AsSpan(i * d, d);
            var sum = sums.AsSpan(c * d, d);
            for (int t = 0; t < d; t++) sum[t] += row[t];
        }
        for (int c = 0; c < k; c++)
        {
            if (sizes[c] == 0) continue;
            var sum = sums.AsSpan(c * d, d);
            var centroid = centroids.AsSpan(c * d, d);
            double inv = 1.0 / sizes[c];
            for (int t = 0; t < d; t++) centroid[t] = (float)(sum[t] * inv);
        }
    }

    /// <summary>An empty cluster takes a row of the largest cluster (its farthest one from the centroid), splitting it.</summary>
    private static void Reseed(float[] rows, int rowCount, int d, float[] centroids, int k, int[] assignment, int[] sizes, Random rng)
    {
        for (int c = 0; c < k; c++)
        {
            if (sizes[c] > 0) continue;
            int largest = 0;
            for (int j = 1; j < k; j++) if (sizes[j] > sizes[largest]) largest = j;
            if (sizes[largest] < 2) return;
            int far = -1;
            float farDistance = -1;
            var centre = centroids.AsSpan(largest * d, d);
            // Scan a bounded random subset so reseeding stays cheap on big inputs.
            for (int probe = 0; probe < 256; probe++)
            {
                int i = rng.Next(rowCount);
                if (assignment[i] != largest) continue;
                float dist = TensorPrimitives.Distance(rows.AsSpan(i * d, d), centre);
                if (dist > farDistance) { farDistance = dist; far = i; }
            }
            if (far < 0) continue;
            rows.AsSpan(far * d, d).CopyTo(centroids.AsSpan(c * d, d));
            assignment[far] = c;
            sizes[c] = 1;
            sizes[largest]--;
        }
    }

    internal static int[] SampleDistinct(Random rng, int n, int count)
    {
        // Partial Fisher-Yates over an index array: exact, distinct, O(n) memory (n is a sample size here).
        var all = new int[n];
        for (int i = 0; i < n; i++) all[i] = i;
        for (int i = 0; i < count; i++)
        {
            int j = i + rng.Next(n - i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        return all.AsSpan(0, count).ToArray();
    }
}
