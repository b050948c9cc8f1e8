using System.Text.Json;
using Retrieval.Bench.Datasets;
using Retrieval.Bench.Evaluation;
using Retrieval.Bench.Reporting;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Inputs;

/// <summary>
/// What a search or ground-truth run reads: base vectors (dense or sparse; optional when an index directory
/// is searched), queries, optional exact ground truth (ids, plus scores when shipped) and the metric a dataset
/// manifest names. Built from a dataset (name or manifest directory) or from individual files.
/// </summary>
public sealed class SearchInputs
{
    private SearchInputs(string description, DenseVectors? denseBase, SparseMatrix? sparseBase, QuerySet queries,
        GroundTruth? truth, Metric? metric)
    {
        Description = description;
        DenseBase = denseBase;
        SparseBase = sparseBase;
        Queries = queries;
        GroundTruth = truth;
        Metric = metric;
    }

    /// <summary>The dataset name or the base file, for logs.</summary>
    public string Description { get; }
    public DenseVectors? DenseBase { get; }
    public SparseMatrix? SparseBase { get; }
    public QuerySet Queries { get; }
    /// <summary>Ground truth without an exact scorer; <see cref="GroundTruthFor"/> adds one for a metric.</summary>
    public GroundTruth? GroundTruth { get; }
    /// <summary>The manifest's metric; null for plain files.</summary>
    public Metric? Metric { get; }
    public bool HasBase => DenseBase is not null || SparseBase is not null;

    /// <summary>Loads a dataset's base, queries and ground truth (name or directory, see <see cref="DatasetLocator"/>).</summary>
    public static SearchInputs FromDataset(string nameOrPath, bool loadBase = true, int? maxQueries = null,
        ProgressReporter? progress = null)
    {
        progress ??= ProgressReporter.Silent;
        var manifest = DatasetLocator.Open(nameOrPath);
        if (manifest.Kind is not (DatasetKind.Dense or DatasetKind.Sparse) || manifest.Queries is null)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"dataset '{manifest.Name}' ({manifest.ManifestPath}) is a {manifest.Kind.ToName()} set; search needs a dense or sparse " +
                "set with base vectors and queries (BEIR sets are evaluated with 'retrieval eval')");
        if (loadBase && manifest.Base is null)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"dataset '{manifest.Name}' ({manifest.ManifestPath}) has no base vectors to search exhaustively");

        DenseVectors? denseBase = null;
        SparseMatrix? sparseBase = null;
        if (loadBase)
        {
            progress.Log($"reading base vectors of {manifest.Name}: {manifest.Base!.Path}");
            if (VectorFiles.SparseKindOf(manifest.Base.Path, manifest.Base.Format) is { } kind)
                sparseBase = VectorFiles.ReadSparse(manifest.Base.Path, kind);
            else
                denseBase = DenseVectorFile.Read(manifest.Base.Path);
        }
        var queries = VectorFiles.ReadQueries(manifest.Queries.Path, manifest.Queries.Format, maxQueries);
        GroundTruth? truth = null;
        if (manifest.GroundTruth is { } gt)
        {
            var scoresPath = GroundTruthScoresPath(manifest);
            truth = ReadGroundTruth(gt.Path, scoresPath, queries.Count, manifest.Metric);
        }
        return new SearchInputs(manifest.Name, denseBase, sparseBase, queries, truth, manifest.Metric);
    }

    /// <summary>Loads individual files; <paramref name="basePath"/> may be null when an index directory supplies the data.</summary>
    public static SearchInputs FromFiles(string? basePath, string queriesPath, string? groundTruthPath = null,
        string? groundTruthScoresPath = null, int? maxQueries = null, ProgressReporter? progress = null)
    {
        progress ??= ProgressReporter.Silent;
        DenseVectors? denseBase = null;
        SparseMatrix? sparseBase = null;
        if (basePath is not null)
        {
            progress.Log($"reading base vectors: {basePath}");
            if (VectorFiles.SparseKindOf(basePath) is { } kind) sparseBase = VectorFiles.ReadSparse(basePath, kind);
            else denseBase = DenseVectorFile.Read(basePath);
        }
        var queries = VectorFiles.ReadQueries(queriesPath, maxRows: maxQueries);
        var truth = groundTruthPath is null ? null : ReadGroundTruth(groundTruthPath, groundTruthScoresPath, queries.Count);
        return new SearchInputs(basePath ?? queriesPath, denseBase, sparseBase, queries, truth, metric: null);
    }

    /// <summary>The metric to use: the explicit one, else the manifest's, else inner product for sparse data and L2 for dense.</summary>
    public Metric ResolveMetric(Metric? requested) =>
        requested ?? Metric ?? (SparseBase is not null || Queries.IsSparse ? Index.Vectors.Metric.InnerProduct : Index.Vectors.Metric.L2);

    /// <summary>Exact search over the base vectors.</summary>
    public ExactSearchIndex CreateExactIndex(Metric metric)
    {
        if (DenseBase is not null) return ExactSearchIndex.Dense(DenseBase, metric);
        if (SparseBase is not null) return ExactSearchIndex.Sparse(SparseBase, metric);
        throw new RetrievalException(ErrorKind.InvalidInput, "exact search needs base vectors: give --base FILE or a --dataset with a base file");
    }

    /// <summary>
    /// The ground truth, with an exact scorer for <paramref name="queries"/> when the base is loaded (tie-aware
    /// recall). Ties are judged in the metric the truth was ranked by: the manifest's, else
    /// <paramref name="searchMetric"/> — so searching with another metric than the truth's lowers recall, as it must.
    /// Null when there is no ground truth.
    /// </summary>
    public GroundTruth? GroundTruthFor(QuerySet queries, Metric searchMetric)
    {
        if (GroundTruth is null) return null;
        var truthMetric = GroundTruth.Metric ?? searchMetric;
        if (DenseBase is not null && !queries.IsSparse)
            return GroundTruth.WithScorer(ExactScorers.ForDense(DenseBase, queries, truthMetric), truthMetric);
        if (SparseBase is not null && queries.IsSparse && truthMetric == Index.Vectors.Metric.InnerProduct)
            return GroundTruth.WithScorer(ExactScorers.ForSparse(SparseBase, queries), truthMetric);
        return GroundTruth;
    }

    /// <summary>Exact (query, base id) scores under <paramref name="metric"/> over the loaded base vectors.</summary>
    public ExactScorer ExactScorerFor(Metric metric)
    {
        if (DenseBase is not null) return ExactScorers.ForDense(DenseBase, Queries, metric);
        if (SparseBase is not null) return ExactScorers.ForSparse(SparseBase, Queries);
        throw new RetrievalException(ErrorKind.InvalidInput, "exact rescoring needs base vectors: give --base FILE or a --dataset with a base file");
    }

    /// <summary>Reads ground-truth ids (and optional scores) for the first <paramref name="queryCount"/> queries.</summary>
    public static GroundTruth ReadGroundTruth(string idsPath, string? scoresPath, int queryCount, Metric? metric = null)
    {
        var ids = IntMatrixFile.Read(idsPath, maxRows: queryCount);
        float[]? scores = null;
        if (scoresPath is not null)
        {
            // Padding rows (fewer true neighbours than k) carry NaN scores; they are data, not corruption.
            var matrix = FloatMatrixFile.Read(scoresPath, new DenseReadOptions { MaxRows = queryCount, AllowNonFinite = true });
            if (matrix.Rows != ids.Rows || matrix.Columns != ids.Columns)
                throw new RetrievalException(ErrorKind.InvalidInput,
                    $"ground-truth scores {scoresPath} are {matrix.Rows} x {matrix.Columns} but the ids {idsPath} are {ids.Rows} x {ids.Columns}; they must match");
            scores = matrix.Data;
        }
        return new GroundTruth(ids.Rows, ids.Columns, ids.Data, scores, exactScorer: null, source: idsPath, metric: metric);
    }

    /// <summary>Ground-truth scores a manifest may ship beside the ids ("groundtruth_distances" or "groundtruth_scores").</summary>
    private static string? GroundTruthScoresPath(DatasetManifest manifest)
    {
        foreach (var key in (ReadOnlySpan<string>)["groundtruth_scores", "groundtruth_distances"])
        {
            if (manifest.Extra.TryGetValue(key, out var spec) && spec.ValueKind == JsonValueKind.Object &&
                spec.TryGetProperty("file", out var file) && file.ValueKind == JsonValueKind.String)
                return Path.Combine(manifest.Directory, file.GetString()!);
        }
        return null;
    }
}
