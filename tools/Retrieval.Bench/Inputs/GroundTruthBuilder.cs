using Retrieval.Bench.Reporting;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Inputs;

/// <summary>
/// Exact top-k of every query, computed in chunks of queries so long runs (10,000 queries over 60,000 images)
/// show progress; each chunk still runs the index's batched multi-threaded search.
/// </summary>
public static class GroundTruthBuilder
{
    /// <summary>Queries per chunk: many query tiles per thread, so chunking costs nothing measurable.</summary>
    public const int ChunkQueries = 1024;

    public static SearchResults Compute(ISearchIndex exact, QuerySet queries, int k, int threads,
        ProgressReporter? progress = null)
    {
        Guard.ValidK(k);
        if (threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {threads}");
        if (!exact.ScoresAreExact)
            throw new RetrievalException(ErrorKind.InvalidInput, $"ground truth needs exact search; the {exact.Kind} index is approximate");
        if (exact.IsSparse != queries.IsSparse)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"the base vectors are {(exact.IsSparse ? "sparse" : "dense")} but the queries are {(queries.IsSparse ? "sparse" : "dense")}");
        if (!exact.IsSparse) Guard.SameDimension(exact.Dimension, queries.Dimension, "the queries");

        progress ??= ProgressReporter.Silent;
        var all = new SearchResults(queries.Count, k);
        progress.Begin("exact ground truth", queries.Count, "queries");
        for (int start = 0; start < queries.Count; start += ChunkQueries)
        {
            int count = Math.Min(ChunkQueries, queries.Count - start);
            var chunk = exact.SearchBatch(queries.Slice(start, count), k, exact.DefaultParameters, threads);
            chunk.Ids.AsSpan().CopyTo(all.Ids.AsSpan(start * k, count * k));
            chunk.Scores.AsSpan().CopyTo(all.Scores.AsSpan(start * k, count * k));
            progress.Advance(count);
        }
        progress.End();
        return all;
    }
}
