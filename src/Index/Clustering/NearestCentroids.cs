using Retrieval.Index.Exact;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Clustering;

/// <summary>
/// The k nearest centroids (squared L2) of many rows at once, through the foundation's blocked exact search
/// (tile kernel, all cores): clustering and posting assignment are both "many rows against few centroids",
/// which is the shape that kernel is fast at. Public only for the IVF-Flat benchmark peer, which still lives in
/// Retrieval.Query (no access to internals); internal once that peer moves to the bench library.
/// </summary>
internal static class NearestCentroids
{
    /// <summary>Ids and squared L2 distances of each row's <paramref name="k"/> nearest centroids, nearest first.</summary>
    public static SearchResults Find(float[] rows, int rowCount, float[] centroids, int centroidCount, int dimension, int k, int threads)
    {
        var index = new ExactDenseIndex(Wrap(centroids, centroidCount, dimension), Metric.L2);
        return index.Search(Wrap(rows, rowCount, dimension), Math.Min(k, centroidCount), threads);
    }

    /// <summary>Float32 rows as <see cref="DenseVectors"/> (a byte copy: DenseVectors owns byte storage).</summary>
    internal static DenseVectors Wrap(float[] rows, int count, int dimension)
    {
        var bytes = new byte[(long)count * dimension * sizeof(float)];
        Buffer.BlockCopy(rows, 0, bytes, 0, bytes.Length);
        return new DenseVectors(ElementType.Float32, count, dimension, bytes);
    }
}
