using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Indexes;

/// <summary>
/// Exact search seen through the index contract: brute force over dense vectors (<see cref="ExactDenseIndex"/>)
/// or exhaustive accumulation over a sparse inverted index (<see cref="ExactSparseIndex"/>). Lives in memory,
/// so it reports no bytes on disk or read; it has no parameters to sweep.
/// </summary>
public sealed class ExactSearchIndex : ISearchIndex
{
    private readonly ExactDenseIndex? _dense;
    private readonly ExactSparseIndex? _sparse;

    private ExactSearchIndex(ExactDenseIndex? dense, ExactSparseIndex? sparse, Metric metric, int count, int dimension)
    {
        _dense = dense;
        _sparse = sparse;
        Metric = metric;
        Count = count;
        Dimension = dimension;
    }

    public static ExactSearchIndex Dense(DenseVectors baseVectors, Metric metric)
    {
        var index = new ExactDenseIndex(baseVectors, metric);
        return new ExactSearchIndex(index, null, metric, index.Count, index.Dimension);
    }

    /// <summary>Sparse exact search ranks by inner product, the metric of learned-sparse retrieval.</summary>
    public static ExactSearchIndex Sparse(SparseMatrix documents, Metric metric = Metric.InnerProduct)
    {
        if (metric != Metric.InnerProduct)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"sparse exact search ranks by inner product (ip); metric '{metric.ToName()}' is not supported for sparse vectors");
        var index = new ExactSparseIndex(documents);
        return new ExactSearchIndex(null, index, metric, index.Count, index.VocabularySize);
    }

    public string Kind => "exact";
    public Metric Metric { get; }
    public int Count { get; }
    public int Dimension { get; }
    public bool IsSparse => _sparse is not null;
    public long? BytesOnDisk => null;
    public bool ScoresAreExact => true;
    public SearchParameters DefaultParameters => NoSearchParameters.Instance;
    public IReadOnlyList<SearchParameters> SweepParameters => [NoSearchParameters.Instance];

    /// <summary>Bytes of base data one exhaustive query touches (dense: every stored row).</summary>
    public long? BaseBytes => _dense?.BaseBytes;

    public void SearchOne(QuerySet queries, int query, int k, SearchParameters parameters, Span<int> ids, Span<float> scores)
    {
        if (_dense is not null)
        {
            _dense.SearchOne(queries.Dense!.Float32Row(query), k, ids, scores);
        }
        else
        {
            _sparse!.SearchOne(queries.Sparse!.Row(query), k, ids, scores);
        }
    }

    public SearchResults SearchBatch(QuerySet queries, int k, SearchParameters parameters, int threads) =>
        _dense is not null ? _dense.Search(queries.Dense!, k, threads) : _sparse!.Search(queries.Sparse!, k, threads);

    public void Dispose()
    {
    }
}
