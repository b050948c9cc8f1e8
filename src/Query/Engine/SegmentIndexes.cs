using Retrieval.Index.Exact;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Engine;

/// <summary>
/// A searchable immutable dense index over one segment's rows (row ids 0..Count-1). The engine asks for more than k
/// when the segment has tombstones and filters them itself, so an index needs no filter support. Exact search
/// today; SPANN plugs in here.
/// </summary>
public interface IDenseSegmentIndex
{
    int Count { get; }
    /// <summary>Top-k rows for one query, best first, scores in the metric's natural units; returns how many were found.</summary>
    int Search(ReadOnlySpan<float> query, int k, Span<int> rows, Span<float> scores);
}

/// <summary>A searchable immutable sparse (inner product) index over one segment's rows. Exact today; Seismic plugs in here.</summary>
public interface ISparseSegmentIndex
{
    int Count { get; }
    int Search(SparseTerms query, int k, Span<int> rows, Span<float> scores);
}

/// <summary>Builds the immutable indexes of a sealed segment; <see cref="ExactSegmentIndexBuilder"/> by default.</summary>
public interface ISegmentIndexBuilder
{
    IDenseSegmentIndex BuildDense(DenseVectors vectors, Metric metric);
    ISparseSegmentIndex BuildSparse(SparseMatrix documents);
}

/// <summary>Brute-force segment indexes over <see cref="ExactDenseIndex"/> and <see cref="ExactSparseIndex"/>.</summary>
public sealed class ExactSegmentIndexBuilder : ISegmentIndexBuilder
{
    public static readonly ExactSegmentIndexBuilder Instance = new();

    public IDenseSegmentIndex BuildDense(DenseVectors vectors, Metric metric) => new Dense(new ExactDenseIndex(vectors, metric));
    public ISparseSegmentIndex BuildSparse(SparseMatrix documents) => new Sparse(new ExactSparseIndex(documents));

    private sealed class Dense(ExactDenseIndex index) : IDenseSegmentIndex
    {
        public int Count => index.Count;
        public int Search(ReadOnlySpan<float> query, int k, Span<int> rows, Span<float> scores) => index.SearchOne(query, k, rows, scores);
    }

    private sealed class Sparse(ExactSparseIndex index) : ISparseSegmentIndex
    {
        public int Count => index.Count;
        public int Search(SparseTerms query, int k, Span<int> rows, Span<float> scores) =>
            index.SearchOne(new SparseVector(query.Indices, query.Values), k, rows, scores);
    }
}
