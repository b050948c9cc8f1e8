using Retrieval.Bench.Evaluation;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Inputs;

/// <summary>
/// Exact nearest neighbours of a query set, row-major (<see cref="Rows"/> x <see cref="Columns"/> ids, best
/// first, -1 padding), with optional scores in the metric's units and an optional exact scorer. Recall is
/// tie-aware when either is present: with the scorer (base vectors at hand) both the k-th true score and every
/// returned id are rescored exactly; with only scores, when the index's own scores are exact.
/// </summary>
public sealed class GroundTruth
{
    public GroundTruth(int rows, int columns, int[] ids, float[]? scores = null, ExactScorer? exactScorer = null,
        string source = "ground truth", Metric? metric = null)
    {
        if (rows < 0 || columns < 1 || ids.LongLength != (long)rows * columns)
            Guard.ThrowInvalid($"{source}: {ids.LongLength} ids do not form {rows} rows of {columns}");
        if (scores is not null && scores.Length != ids.Length)
            Guard.ThrowInvalid($"{source}: {ids.Length} ids but {scores.Length} scores; the files must have the same shape");
        Rows = rows;
        Columns = columns;
        Ids = ids;
        Scores = scores;
        ExactScorer = exactScorer;
        Source = source;
        Metric = metric;
    }

    public int Rows { get; }
    public int Columns { get; }
    public int[] Ids { get; }
    public float[]? Scores { get; }
    /// <summary>Exact score of (query row, base id) under the search metric; null when no base vectors are loaded.</summary>
    public ExactScorer? ExactScorer { get; }
    /// <summary>Where the ids came from (file path), for error messages.</summary>
    public string Source { get; }
    /// <summary>The metric the neighbours were ranked by (ties and scores are judged in it); null when unknown,
    /// in which case the searched index's metric is assumed.</summary>
    public Metric? Metric { get; }

    /// <summary>The same ids with an exact scorer under <paramref name="metric"/>, the metric the truth was ranked by.</summary>
    public GroundTruth WithScorer(ExactScorer scorer, Metric metric) => new(Rows, Columns, Ids, Scores, scorer, Source, metric);

    /// <summary>Checks that the ground truth covers <paramref name="queries"/> rows and k neighbours per row.</summary>
    public void CheckCovers(int queries, int k)
    {
        if (Rows < queries)
            Guard.ThrowInvalid($"{Source} has {Rows} rows but there are {queries} queries; each query needs a ground-truth row");
        if (Columns < k)
            Guard.ThrowInvalid($"{Source} holds {Columns} neighbours per query, fewer than k = {k}; recompute it with 'retrieval gt --k {k}' or lower --k");
    }

    /// <summary>The first <paramref name="queries"/> rows' ids (row-major) — the rows that match a --max-queries prefix.</summary>
    public ReadOnlySpan<int> IdsOfFirst(int queries) => Ids.AsSpan(0, queries * Columns);

    public ReadOnlySpan<float> ScoresOfFirst(int queries) => Scores.AsSpan(0, queries * Columns);
}
