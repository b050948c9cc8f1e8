using Retrieval.Index.Exact;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Datasets.Recipes;

/// <summary>Exact top-k ground truth for a recipe: ExactDenseIndex over all base vectors, in query batches for progress.</summary>
internal static class ExactGroundTruth
{
    /// <summary>Searches in slices of this many queries so progress moves and cancellation is honoured.</summary>
    private const int QueriesPerSlice = 256;

    public static (IntMatrix Ids, FloatMatrix Scores) Compute(RecipeContext context, string stage, DenseVectors baseVectors,
        DenseVectors queries, Metric metric, int k)
    {
        var index = new ExactDenseIndex(baseVectors, metric);
        var ids = new IntMatrix(queries.Count, k);
        var scores = new FloatMatrix(queries.Count, k);
        context.Report(stage, 0, queries.Count, "queries");
        for (int start = 0; start < queries.Count; start += QueriesPerSlice)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(QueriesPerSlice, queries.Count - start);
            var results = index.Search(queries.Slice(start, count), k, context.Options.Threads);
            results.Ids.AsSpan().CopyTo(ids.Data.AsSpan(start * k, count * k));
            results.Scores.AsSpan().CopyTo(scores.Data.AsSpan(start * k, count * k));
            context.Report(stage, start + count, queries.Count, "queries");
        }
        return (ids, scores);
    }
}
