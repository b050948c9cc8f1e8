using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Retrieval.Index.Search;

namespace Retrieval.Index.Seismic;

/// <summary>
/// Scoring one block's documents exactly from the forward index, shared by every block order: the documents the
/// query has not scored yet are scored and offered to the heap, while the block expected next is prefetched.
/// </summary>
internal static class BlockScoring
{
    /// <summary>
    /// Scores the unvisited documents of <paramref name="globalBlock"/>, prefetching those of <paramref name="nextBlock"/>
    /// (-1: none); returns how many were scored.
    /// </summary>
    public static int ScoreBlock(SeismicIndex index, int globalBlock, int nextBlock, SeismicScratch scratch, TopKHeap heap, QueryLanes? lanes)
    {
        var postings = index.Postings;
        int[] blockDocStart = postings.BlockDocStart;
        int start = blockDocStart[globalBlock], end = blockDocStart[globalBlock + 1];
        int nextStart = nextBlock >= 0 ? blockDocStart[nextBlock] : 0, nextEnd = nextBlock >= 0 ? blockDocStart[nextBlock + 1] : 0;
        var docs = postings.DocIds.AsSpan(start, end - start);
        var next = postings.DocIds.AsSpan(nextStart, nextEnd - nextStart);
        if (nextEnd > nextStart) PrefetchPostings(index, nextStart, nextEnd);
        if (index.PostingRowRefs is { } refs)
            return index.Forward.ScoreUnvisited(docs, next, scratch.DenseQuery, scratch.Visited, heap, scratch.ValueBuffer, index.RowDocuments,
                lanes, refs.AsSpan(start, end - start), refs.AsSpan(nextStart, nextEnd - nextStart));
        return index.Forward.ScoreUnvisited(docs, next, scratch.DenseQuery, scratch.Visited, heap, scratch.ValueBuffer, index.RowDocuments, lanes);
    }

    /// <summary>
    /// Prefetches the next block's posting ids and row references (first and last line of each). The row look-ahead
    /// into the next block reads them, and without this each block began with two demand misses.
    /// </summary>
    private static unsafe void PrefetchPostings(SeismicIndex index, int start, int end)
    {
        if (!Sse.IsSupported) return;
        ref int ids = ref MemoryMarshal.GetArrayDataReference(index.Postings.DocIds);
        Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref ids, start)));
        Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref ids, end - 1)));
        if (index.PostingRowRefs is { } refs)
        {
            ref uint r = ref MemoryMarshal.GetArrayDataReference(refs);
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref r, start)));
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref r, end - 1)));
        }
    }
}
