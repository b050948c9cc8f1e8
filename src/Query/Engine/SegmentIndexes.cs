using Retrieval.Index.Exact;
using Retrieval.Index.Seismic;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Engine;

/// <summary>
/// A searchable immutable dense index over one segment's rows (row ids 0..Count-1). The engine asks for more than k
/// when the segment has tombstones and filters them itself, so an index needs no filter support.
/// </summary>
internal interface IDenseSegmentIndex : IDisposable
{
    int Count { get; }
    /// <summary>Top-k rows for one query, best first, scores in the metric's natural units; returns how many were found.</summary>
    int Search(ReadOnlySpan<float> query, int k, Span<int> rows, Span<float> scores);
}

/// <summary>A searchable immutable sparse (inner product) index over one segment's rows.</summary>
internal interface ISparseSegmentIndex : IDisposable
{
    int Count { get; }
    int Search(SparseTerms query, int k, Span<int> rows, Span<float> scores);
}

/// <summary>Brute-force segment indexes over <see cref="ExactDenseIndex"/> and <see cref="ExactSparseIndex"/> (small segments, and the fallback).</summary>
internal static class ExactSegmentIndexes
{
    public static IDenseSegmentIndex BuildDense(DenseVectors vectors, Metric metric) => new Dense(new ExactDenseIndex(vectors, metric));
    public static ISparseSegmentIndex BuildSparse(SparseMatrix documents) => new Sparse(new ExactSparseIndex(documents));

    private sealed class Dense(ExactDenseIndex index) : IDenseSegmentIndex
    {
        public int Count => index.Count;
        public int Search(ReadOnlySpan<float> query, int k, Span<int> rows, Span<float> scores) => index.SearchOne(query, k, rows, scores);
        public void Dispose() { }
    }

    private sealed class Sparse(ExactSparseIndex index) : ISparseSegmentIndex
    {
        public int Count => index.Count;
        public int Search(SparseTerms query, int k, Span<int> rows, Span<float> scores) =>
            index.SearchOne(new SparseVector(query.Indices, query.Values), k, rows, scores);
        public void Dispose() { }
    }
}

/// <summary>A sealed segment's dense field served by an on-disk SPANN index (built by the engine or attached).</summary>
internal sealed class SpannSegmentIndex(SpannIndex index, SpannSearchParameters parameters) : IDenseSegmentIndex
{
    public SpannIndex Index => index;
    public int Count => index.Count;
    public int Search(ReadOnlySpan<float> query, int k, Span<int> rows, Span<float> scores) => index.SearchOne(query, k, parameters, rows, scores);
    public void Dispose() => index.Dispose();
}

/// <summary>A sealed segment's sparse field served by a Seismic index (built by the engine or attached).</summary>
internal sealed class SeismicSegmentIndex(SeismicIndex index, SeismicSearchParameters parameters) : ISparseSegmentIndex
{
    public SeismicIndex Index => index;
    public int Count => index.Count;
    public int Search(SparseTerms query, int k, Span<int> rows, Span<float> scores)
    {
        // Seismic rejects query terms beyond its own vocabulary; such terms match no document of this segment.
        var indices = query.Indices;
        int n = indices.Length;
        while (n > 0 && indices[n - 1] >= index.VocabularySize) n--;
        if (n == 0) return 0;
        return index.SearchOne(new SparseVector(indices.AsSpan(0, n), query.Values.AsSpan(0, n)), k, parameters, rows, scores);
    }
    /// <summary>Unmaps the forward rows (the segment is disposed only once no search can reach it).</summary>
    public void Dispose() => index.Dispose();
}

/// <summary>
/// A sealed segment's dense field served by a SPANN index that takes inserts and deletes in place (SPFresh): the
/// collection's base segment, into which later sealed segments are absorbed instead of rebuilding one index from all
/// rows. Its ids are the segment's rows; rows inserted but not yet committed to the segment (an absorb in flight)
/// are filtered out by the segment.
/// </summary>
internal sealed class UpdatableSpannSegmentIndex(UpdatableSpannIndex index, SpannSearchParameters parameters) : IDenseSegmentIndex
{
    public UpdatableSpannIndex Index => index;
    public int Count => index.LiveCount;
    public int Search(ReadOnlySpan<float> query, int k, Span<int> rows, Span<float> scores) => index.SearchOne(query, k, parameters, rows, scores);
    public void Dispose() => index.Dispose();
}
