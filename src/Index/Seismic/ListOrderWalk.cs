using System.Diagnostics;
using System.Runtime.CompilerServices;
using Retrieval.Index.Search;

namespace Retrieval.Index.Seismic;

/// <summary>
/// <see cref="SeismicBlockOrder.ListOrder"/> (the paper's order): list by list, heaviest query term first, each list's
/// summaries scored in one pass, then its blocks visited in stored order, skipping those whose summary score is below
/// the heap's bar. <see cref="SeismicBlockOrder.ListBestFirst"/> shares this walk over the lists and replaces only the
/// walk within a list (<see cref="ListBestFirstWalk"/>).
/// </summary>
internal static class ListOrderWalk
{
    public static void Search(SeismicIndex index, ReadOnlySpan<int> terms, ReadOnlySpan<float> weights, ReadOnlySpan<long> cutOrder,
        TopKHeap heap, SeismicSearchParameters parameters, bool timed, SeismicScratch scratch, QueryLanes? lanes, ref SeismicQueryStats stats,
        ref long summaryTicks, ref long documentTicks)
    {
        int[] termBlockStart = index.Postings.TermBlockStart;
        int[] runStart = scratch.RunStarts, runEnd = scratch.RunEnds;
        bool bestFirst = parameters.BlockOrder == SeismicBlockOrder.ListBestFirst;
        for (int c = 0; c < cutOrder.Length; c++)
        {
            float heapFactor = parameters.HeapFactorAt(c);
            int term = terms[(int)(uint)cutOrder[c]];
            int firstBlock = termBlockStart[term], blockCount = termBlockStart[term + 1] - firstBlock;
            if (blockCount == 0) continue;
            stats.ListsVisited++;
            if (blockCount == 1)
            {
                // A single-block list has no summary: its few documents are scored directly.
                long s0 = timed ? Stopwatch.GetTimestamp() : 0;
                stats.BlocksScored++;
                stats.DocumentsScored += BlockScoring.ScoreBlock(index, firstBlock, -1, scratch, heap, lanes);
                if (timed) documentTicks += Stopwatch.GetTimestamp() - s0;
                continue;
            }
            long t0 = timed ? Stopwatch.GetTimestamp() : 0;
            stats.SummaryEntriesRead += index.Summaries.AccumulateRuns(firstBlock, blockCount,
                scratch.SummaryRuns.AsSpan(runStart[c], runEnd[c] - runStart[c]), weights, scratch.BlockScores, scratch.WeightSums);
            SummaryLocation.PrefetchNext(index, terms, cutOrder, c + 1, scratch);
            long t1 = timed ? Stopwatch.GetTimestamp() : 0;
            if (bestFirst) ListBestFirstWalk.WalkList(index, firstBlock, blockCount, heapFactor, heap, scratch, lanes, ref stats);
            else WalkList(index, firstBlock, blockCount, heapFactor, heap, scratch, lanes, ref stats);
            if (timed)
            {
                long t2 = Stopwatch.GetTimestamp();
                summaryTicks += t1 - t0;
                documentTicks += t2 - t1;
            }
        }
    }

    /// <summary>
    /// One list's blocks in stored order (their summary scores in the scratch's block scores). The next block that
    /// passes the heap test as it stands now is prefetched while this one is scored (the test is repeated when its turn
    /// comes: the heap may have risen).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WalkList(SeismicIndex index, int firstBlock, int blockCount, float heapFactor, TopKHeap heap, SeismicScratch scratch,
        QueryLanes? lanes, ref SeismicQueryStats stats)
    {
        float[] blockScores = scratch.BlockScores;
        int b = NextAdmissible(blockScores, 0, blockCount, heap, heapFactor);
        stats.BlocksSkipped += b;
        while (b < blockCount)
        {
            int after = NextAdmissible(blockScores, b + 1, blockCount, heap, heapFactor);
            stats.BlocksScored++;
            int next = after < blockCount ? firstBlock + after : -1;
            stats.DocumentsScored += BlockScoring.ScoreBlock(index, firstBlock + b, next, scratch, heap, lanes);
            if (after < blockCount && heap.IsFull && blockScores[after] < heapFactor * heap.Threshold)
                after = NextAdmissible(blockScores, after + 1, blockCount, heap, heapFactor);
            stats.BlocksSkipped += after - b - 1;
            b = after;
        }
    }

    /// <summary>The first block at or after <paramref name="from"/> whose summary passes the heap test (blockCount when none).</summary>
    private static int NextAdmissible(float[] blockScores, int from, int blockCount, TopKHeap heap, float heapFactor)
    {
        if (!heap.IsFull) return from;
        float bar = heapFactor * heap.Threshold;
        while (from < blockCount && blockScores[from] < bar) from++;
        return from;
    }
}
