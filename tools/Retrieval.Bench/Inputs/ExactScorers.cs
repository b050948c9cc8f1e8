using Retrieval.Bench.Evaluation;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Inputs;

/// <summary>
/// Exact (query, base id) scorers for tie-aware recall: they rescore the k-th ground-truth neighbour and every
/// returned id with one function, so a returned id that ties the k-th true neighbour counts as found even when
/// the ground-truth file lists another member of the tie (about 2.5% of minilm-passages queries tie at rank 10).
/// </summary>
public static class ExactScorers
{
    public static ExactScorer ForDense(DenseVectors baseVectors, QuerySet queries, Metric metric)
    {
        var dense = queries.Dense ?? throw new RetrievalException(ErrorKind.Incompatible, "dense base vectors need dense queries");
        Guard.SameDimension(baseVectors.Dimension, dense.Dimension, "the queries");
        return (query, id) =>
        {
            if ((uint)id >= (uint)baseVectors.Count)
                Guard.ThrowInvalid($"neighbour id {id} is outside the base set [0, {baseVectors.Count})");
            var q = dense.Float32Row(query);
            return (baseVectors.ElementType, metric) switch
            {
                (ElementType.Float32, Metric.L2) => DenseKernels.SquaredL2(q, baseVectors.Float32Row(id)),
                (ElementType.Float32, Metric.InnerProduct) => DenseKernels.Dot(q, baseVectors.Float32Row(id)),
                (ElementType.Float32, Metric.Cosine) => DenseKernels.Cosine(q, baseVectors.Float32Row(id)),
                (ElementType.Float16, Metric.L2) => DenseKernels.SquaredL2(q, baseVectors.Float16Row(id)),
                (ElementType.Float16, Metric.InnerProduct) => DenseKernels.Dot(q, baseVectors.Float16Row(id)),
                (ElementType.Float16, Metric.Cosine) => DenseKernels.Cosine(q, baseVectors.Float16Row(id)),
                (ElementType.UInt8, Metric.L2) => DenseKernels.SquaredL2(q, baseVectors.UInt8Row(id)),
                (ElementType.UInt8, Metric.InnerProduct) => DenseKernels.Dot(q, baseVectors.UInt8Row(id)),
                (ElementType.UInt8, Metric.Cosine) => DenseKernels.Cosine(q, baseVectors.UInt8Row(id)),
                (ElementType.Int8, Metric.L2) => DenseKernels.SquaredL2(q, baseVectors.Int8Row(id)),
                (ElementType.Int8, Metric.InnerProduct) => DenseKernels.Dot(q, baseVectors.Int8Row(id)),
                (ElementType.Int8, Metric.Cosine) => DenseKernels.Cosine(q, baseVectors.Int8Row(id)),
                _ => throw new RetrievalException(ErrorKind.Internal, $"no kernel for {baseVectors.ElementType} / {metric}"),
            };
        };
    }

    /// <summary>Sparse vectors are ranked by inner product.</summary>
    public static ExactScorer ForSparse(SparseMatrix documents, QuerySet queries)
    {
        var sparse = queries.Sparse ?? throw new RetrievalException(ErrorKind.Incompatible, "sparse documents need sparse queries");
        return (query, id) =>
        {
            if ((uint)id >= (uint)documents.RowCount)
                Guard.ThrowInvalid($"neighbour id {id} is outside the document set [0, {documents.RowCount})");
            return SparseDot.Dot(sparse.Row(query), documents.Row(id));
        };
    }
}
