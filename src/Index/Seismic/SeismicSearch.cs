using System.Diagnostics;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Seismic;

/// <summary>
/// One Seismic query on the calling thread, the steps every block order shares: scatter the query into the dense
/// scratch array (and the AVX-512 lanes), keep the query_cut heaviest terms, locate their summaries up front
/// (<see cref="SummaryLocation"/>), walk the blocks in the parameters' order (<see cref="ListOrderWalk"/> for both
/// list orders, <see cref="GlobalBestFirstWalk"/>), refine with the kNN graph (<see cref="KnnRefinement"/>), then
/// reset the scratch and drain the heap. Static methods over the index's arrays: nothing on this path is virtual
/// (bar one forward-index call per block) or allocates.
/// </summary>
internal static class SeismicSearch
{
    /// <summary>One query; the caller validated the query and parameters.</summary>
    public static int Run(SeismicIndex index, SparseVector query, int k, SeismicSearchParameters parameters, Span<int> ids,
        Span<float> scores, SeismicScratch scratch, ref SeismicQueryStats stats)
    {
        var heap = scratch.HeapFor(k);
        var terms = query.Indices;
        var weights = query.Values;
        float[] dense = scratch.DenseQuery;
        for (int i = 0; i < terms.Length; i++) dense[terms[i]] = weights[i];
        var lanes = scratch.Lanes;
        if (!lanes.Set(terms, weights)) lanes = null;

        // Query cut: visit the lists of the heaviest terms, heaviest first (ties: lower term id).
        var order = scratch.CutKeysFor(terms.Length);
        for (int i = 0; i < terms.Length; i++)
            order[i] = ((long)(int.MaxValue - BitConverter.SingleToInt32Bits(weights[i] + 0f)) << 32) | (uint)i;
        order.Sort();
        int cut = Math.Min(parameters.QueryCut, terms.Length);

        bool timed = parameters.CollectTimings;
        long summaryTicks = 0, documentTicks = 0;
        long l0 = timed ? Stopwatch.GetTimestamp() : 0;
        SummaryLocation.Locate(index, terms, order[..cut], scratch);
        if (timed) summaryTicks += Stopwatch.GetTimestamp() - l0;
        if (parameters.BlockOrder == SeismicBlockOrder.GlobalBestFirst)
            GlobalBestFirstWalk.Search(index, terms, weights, order[..cut], heap, parameters, timed, scratch, lanes, ref stats,
                ref summaryTicks, ref documentTicks);
        else
            ListOrderWalk.Search(index, terms, weights, order[..cut], heap, parameters, timed, scratch, lanes, ref stats,
                ref summaryTicks, ref documentTicks);
        if (parameters.KnnRefine && index.Graph is { } graph)
        {
            long r0 = timed ? Stopwatch.GetTimestamp() : 0;
            int refined = KnnRefinement.Refine(index, graph, parameters.KnnExpand, k, scratch, heap, lanes);
            stats.DocumentsScored += refined;
            stats.KnnDocumentsScored += refined;
            if (timed) documentTicks += Stopwatch.GetTimestamp() - r0;
        }
        for (int i = 0; i < terms.Length; i++) dense[terms[i]] = 0f;
        scratch.Visited.Clear();
        stats.Queries++;
        stats.SummaryTicks += summaryTicks;
        stats.DocumentTicks += documentTicks;

        int found = heap.DrainSorted(ids, scores);
        ids[found..].Fill(SearchResults.MissingId);
        scores[found..].Fill(float.NaN);
        return found;
    }
}
