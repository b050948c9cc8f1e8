using Retrieval.Index.Vectors;

namespace Retrieval.Index.Seismic;

/// <summary>
/// Builds a <see cref="KnnGraph"/> approximately with the finished index itself, as the CIKM 2024 paper does: every
/// document's full stored vector is searched as a query for its kappa + 1 best documents, and the document itself is
/// dropped from its answer. Searches run with <see cref="SeismicBuildOptions.KnnBuildQueryCut"/> and
/// <see cref="SeismicBuildOptions.KnnBuildHeapFactor"/> (default 10 and 0.8; see there for what cheaper searches cost),
/// spread over the build threads.
/// Documents longer than <see cref="QueryLanes.MaxTerms"/> terms are searched on the gather scoring path, as any long
/// query is.
/// </summary>
internal static class KnnGraphBuilder
{
    /// <summary>The search each document's neighbours come from, from the build options (no refinement: there is no graph yet).</summary>
    public static SeismicSearchParameters BuildSearch(SeismicBuildOptions options) => new()
    {
        QueryCut = options.KnnBuildQueryCut,
        HeapFactor = options.KnnBuildHeapFactor,
        KnnRefine = false,
    };

    private const int RowsPerClaim = 64;

    /// <summary>The graph of <paramref name="kappa"/> neighbours per row, searched on <paramref name="threads"/> threads (0 = all cores).</summary>
    public static KnnGraph Build(SeismicIndex index, int kappa, int threads, SeismicSearchParameters search)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (kappa < 1 || kappa > SeismicBuildOptions.MaxKnnNeighbours)
            throw new ArgumentOutOfRangeException(nameof(kappa), kappa, $"kappa must be in [1, {SeismicBuildOptions.MaxKnnNeighbours}]");
        ArgumentNullException.ThrowIfNull(search);
        search = search with { KnnRefine = false, CollectTimings = false };
        search.Validate();
        int rows = index.Count;
        var neighbours = new int[(long)rows * kappa];
        int workers = threads == 0 ? Environment.ProcessorCount : threads;
        workers = Math.Max(1, Math.Min(workers, (rows + RowsPerClaim - 1) / RowsPerClaim));
        int k = Math.Min(kappa + 1, Math.Max(1, rows));
        int nextRow = 0;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
        {
            var scratch = index.RentScratch();
            var terms = new int[Math.Max(1, index.MaxDocumentLength)];
            var weights = new float[terms.Length];
            var ids = new int[k];
            var scores = new float[k];
            var stats = new SeismicQueryStats();
            int[] documentRows = index.DocumentRows;
            try
            {
                while (true)
                {
                    int first = Interlocked.Add(ref nextRow, RowsPerClaim) - RowsPerClaim;
                    if (first >= rows) break;
                    int last = Math.Min(first + RowsPerClaim, rows);
                    for (int row = first; row < last; row++)
                    {
                        int length = index.Forward.CopyRow(row, terms, weights);
                        var slots = neighbours.AsSpan(row * kappa, kappa);
                        slots.Fill(KnnGraph.NoNeighbour);
                        if (length == 0) continue;
                        int found = SeismicSearch.Run(index, new SparseVector(terms.AsSpan(0, length), weights.AsSpan(0, length)), k, search,
                            ids, scores, scratch, ref stats);
                        int kept = 0;
                        for (int i = 0; i < found && kept < kappa; i++)
                        {
                            int neighbour = documentRows[ids[i]];
                            // An all-zero document (every weight rounded to 0) scores 0 with everything: no neighbours.
                            if (neighbour == row || !(scores[i] > 0)) continue;
                            slots[kept++] = neighbour;
                        }
                    }
                }
            }
            finally
            {
                index.ReturnScratch(scratch);
            }
        });
        return KnnGraph.Validated(kappa, rows, neighbours);
    }
}
