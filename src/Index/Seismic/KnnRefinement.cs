using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Retrieval.Index.Search;

namespace Retrieval.Index.Seismic;

/// <summary>
/// kNN refinement (CIKM 2024): the documents in the heap after the block walk are likely near the query, and their
/// graph neighbours likely are too; those this query has not scored yet are scored exactly and offered to the heap.
/// One step over the heap as it stands (members entering now are not expanded). Acts with
/// <see cref="SeismicSearchParameters.KnnRefine"/> on an index built with <see cref="SeismicBuildOptions.KnnNeighbours"/> > 0,
/// expanding at most <see cref="SeismicSearchParameters.KnnExpand"/> neighbours per member.
/// </summary>
internal static class KnnRefinement
{
    /// <summary>One refinement step; returns how many documents were scored.</summary>
    public static int Refine(SeismicIndex index, KnnGraph graph, int expand, int k, SeismicScratch scratch, TopKHeap heap, QueryLanes? lanes)
    {
        var heapIds = heap.UnorderedIds;
        if (heapIds.Length == 0) return 0;
        int kappa = graph.Kappa;
        int used = expand == 0 ? kappa : Math.Min(expand, kappa);
        var (members, rows, rowRefs) = scratch.RefineBuffers(k, used);
        int memberCount = heapIds.Length;
        int[] neighbours = graph.Neighbours;
        int[] documentRows = index.DocumentRows;
        var visited = scratch.Visited;
        uint[]? graphRefs = index.GraphRowRefs;
        // Each step below is a random access per member or neighbour (graph rows lie anywhere in tens of MiB, their
        // documents anywhere in the forward index), so every step first requests all of its lines, then reads them.
        for (int m = 0; m < memberCount; m++)
        {
            int first = documentRows[heapIds[m]] * kappa;
            members[m] = first;
            Prefetch(neighbours, first);
            if (graphRefs is not null) Prefetch(graphRefs, first);
        }
        int candidates = 0;
        for (int m = 0; m < memberCount; m++)
        {
            int first = members[m];
            for (int i = first; i < first + used; i++)
            {
                int row = neighbours[i];
                if (row < 0) break;
                if (visited.IsVisited(row)) continue;
                rows[candidates] = row;
                if (graphRefs is not null) rowRefs[candidates] = graphRefs[i];
                candidates++;
            }
        }
        if (candidates == 0) return 0;
        if (graphRefs is not null) PrefetchRows(index, rowRefs.AsSpan(0, candidates));
        // Rows named twice (neighbours of two members) are scored once: ScoreUnvisited marks each as it goes.
        return graphRefs is not null
            ? index.Forward.ScoreUnvisited(rows.AsSpan(0, candidates), default, scratch.DenseQuery, visited, heap, scratch.ValueBuffer,
                index.RowDocuments, lanes, rowRefs.AsSpan(0, candidates))
            : index.Forward.ScoreUnvisited(rows.AsSpan(0, candidates), default, scratch.DenseQuery, visited, heap, scratch.ValueBuffer,
                index.RowDocuments, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch<T>(T[] array, int index) where T : unmanaged
    {
        if (Sse.IsSupported) Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(array), index)));
    }

    /// <summary>Requests the first line of every referenced row (and the second where the row crosses into it).</summary>
    private static unsafe void PrefetchRows(SeismicIndex index, ReadOnlySpan<uint> refs)
    {
        if (!Sse.IsSupported) return;
        byte* rows = index.Forward.RowPointer;
        int stride = index.ForwardRowStride;
        for (int i = 0; i < refs.Length; i++)
        {
            uint reference = refs[i];
            byte* row = rows + (long)(reference >> ForwardIndex.RefLengthBits) * stride;
            Sse.Prefetch0(row);
            byte* last = row + (long)(reference & ForwardIndex.RefLengthEscape) * stride - 1;
            if (((nint)last & ~63) != ((nint)row & ~63)) Sse.Prefetch0(last);
        }
    }
}
