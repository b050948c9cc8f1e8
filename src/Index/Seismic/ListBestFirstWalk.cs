using System.Runtime.CompilerServices;
using Retrieval.Index.Search;

namespace Retrieval.Index.Seismic;

/// <summary>
/// <see cref="SeismicBlockOrder.ListBestFirst"/>: lists are walked as in <see cref="ListOrderWalk"/>, but each list's
/// blocks are visited by descending summary score. The heap fills with strong documents early, and once one block falls
/// below the bar every later one does too, so the rest of the list is skipped in one step.
/// </summary>
internal static class ListBestFirstWalk
{
    /// <summary>One list's blocks, best summary first (their summary scores in the scratch's block scores).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WalkList(SeismicIndex index, int firstBlock, int blockCount, float heapFactor, TopKHeap heap, SeismicScratch scratch,
        QueryLanes? lanes, ref SeismicQueryStats stats)
    {
        float[] blockScores = scratch.BlockScores;
        var byScore = scratch.BlockOrderFor(blockCount);
        for (int b = 0; b < blockCount; b++)
            byScore[b] = ((long)(int.MaxValue - BitConverter.SingleToInt32Bits(Math.Max(blockScores[b], 0f))) << 32) | (uint)b;
        byScore.Sort();
        for (int i = 0; i < blockCount; i++)
        {
            int b = (int)(uint)byScore[i];
            if (heap.IsFull && blockScores[b] < heapFactor * heap.Threshold)
            {
                stats.BlocksSkipped += blockCount - i;
                break;
            }
            stats.BlocksScored++;
            // Blocks come in descending summary score, so the next one is the only candidate to prefetch.
            int next = i + 1 < blockCount ? firstBlock + (int)(uint)byScore[i + 1] : -1;
            stats.DocumentsScored += BlockScoring.ScoreBlock(index, firstBlock + b, next, scratch, heap, lanes);
        }
    }
}
