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
        k = Math.Min(k, centroidCount);
        if (rowCount <= BlockRows) return index.Search(Wrap(rows, rowCount, dimension), k, threads);
        // Blocks of rows: the search decodes and pads its queries, so handing it every row at once cost two full
        // copies of the rows per k-means iteration (a 160,000 x 384 clustering peaked near 3 GB resident).
        var results = new SearchResults(rowCount, k);
        for (int first = 0; first < rowCount; first += BlockRows)
        {
            int count = Math.Min(BlockRows, rowCount - first);
            var block = index.Search(Wrap(rows.AsSpan(first * dimension, count * dimension), count, dimension), k, threads);
            block.Ids.CopyTo(results.Ids, (long)first * k);
            block.Scores.CopyTo(results.Scores, (long)first * k);
        }
        return results;
    }

    /// <summary>Rows searched per call: large enough to keep every core busy on the tile kernel, small next to the set.</summary>
    private const int BlockRows = 16384;

    /// <summary>Float32 rows as <see cref="DenseVectors"/> (a byte copy: DenseVectors owns byte storage).</summary>
    internal static DenseVectors Wrap(float[] rows, int count, int dimension) => Wrap(rows.AsSpan(0, count * dimension), count, dimension);

    internal static DenseVectors Wrap(ReadOnlySpan<float> rows, int count, int dimension)
    {
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows[..(count * dimension)]).ToArray();
        return new DenseVectors(ElementType.Float32, count, dimension, bytes);
    }
}
