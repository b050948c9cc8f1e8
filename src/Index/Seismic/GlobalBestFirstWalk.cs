using System.Diagnostics;
using Retrieval.Index.Search;

namespace Retrieval.Index.Seismic;

/// <summary>
/// <see cref="SeismicBlockOrder.GlobalBestFirst"/>: single-block lists (no summary; rare terms, strong documents) are
/// scored first, then the summaries of every other cut list, then their blocks in one descending summary-score
/// order across lists. A binary max-heap of (score bits, global block) keys (<see cref="BlockKeyHeap"/>) is built in
/// linear time and popped only as far as blocks pass the bar, so the many blocks that never do are never sorted.
/// </summary>
internal static class GlobalBestFirstWalk
{
    public static void Search(SeismicIndex index, ReadOnlySpan<int> terms, ReadOnlySpan<float> weights, ReadOnlySpan<long> cutOrder,
        TopKHeap heap, SeismicSearchParameters parameters, bool timed, SeismicScratch scratch, QueryLanes? lanes, ref SeismicQueryStats stats,
        ref long summaryTicks, ref long documentTicks)
    {
        int[] termBlockStart = index.Postings.TermBlockStart;
        float heapFactor = parameters.HeapFactor;
        long t0 = timed ? Stopwatch.GetTimestamp() : 0;
        int total = 0;
        for (int c = 0; c < cutOrder.Length; c++)
        {
            int term = terms[(int)(uint)cutOrder[c]];
            int blockCount = termBlockStart[term + 1] - termBlockStart[term];
            if (blockCount == 0) continue;
            stats.ListsVisited++;
            if (blockCount == 1)
            {
                stats.BlocksScored++;
                stats.DocumentsScored += BlockScoring.ScoreBlock(index, termBlockStart[term], -1, scratch, heap, lanes);
                continue;
            }
            total += blockCount;
        }
        long t1 = timed ? Stopwatch.GetTimestamp() : 0;
        int[] runStart = scratch.RunStarts;
        var keys = scratch.GlobalKeysFor(total);
        var scores = scratch.GlobalScoresFor(total);
        int filled = 0;
        for (int c = 0; c < cutOrder.Length; c++)
        {
            int term = terms[(int)(uint)cutOrder[c]];
            int firstBlock = termBlockStart[term], blockCount = termBlockStart[term + 1] - firstBlock;
            if (blockCount < 2) continue;
            var listScores = scores.Slice(filled, blockCount);
            SummaryLocation.PrefetchNext(index, terms, cutOrder, c + 1, scratch);
            stats.SummaryEntriesRead += index.Summaries.AccumulateRuns(firstBlock, blockCount,
                scratch.SummaryRuns.AsSpan(runStart[c], scratch.RunEnds[c] - runStart[c]), weights, listScores, scratch.WeightSums);
            // With a heap factor growing along the cut, a block of list c must reach HeapFactorAt(c) x bar: dividing
            // its score by HeapFactorAt(c) / HeapFactor puts every list against the same bar, so one order still holds.
            float scale = parameters.HeapFactor > 0 ? parameters.HeapFactor / parameters.HeapFactorAt(c) : 1f;
            for (int b = 0; b < blockCount; b++)
                keys[filled + b] = ((long)BitConverter.SingleToInt32Bits(Math.Max(listScores[b] * scale, 0f)) << 32) | (uint)(firstBlock + b);
            filled += blockCount;
        }
        long t2 = timed ? Stopwatch.GetTimestamp() : 0;
        BlockKeyHeap.Build(keys);
        int remaining = keys.Length;
        while (remaining > 0)
        {
            long key = BlockKeyHeap.Pop(keys, ref remaining);
            float score = BitConverter.Int32BitsToSingle((int)(key >> 32));
            if (heap.IsFull && score < heapFactor * heap.Threshold)
            {
                stats.BlocksSkipped += remaining + 1;
                break;
            }
            stats.BlocksScored++;
            // The heap's top is the block visited next unless the bar rises past it: prefetch its documents.
            int next = remaining > 0 ? (int)(uint)keys[0] : -1;
            stats.DocumentsScored += BlockScoring.ScoreBlock(index, (int)(uint)key, next, scratch, heap, lanes);
        }
        if (timed)
        {
            long t3 = Stopwatch.GetTimestamp();
            summaryTicks += t2 - t1;
            documentTicks += (t1 - t0) + (t3 - t2);
        }
    }
}
