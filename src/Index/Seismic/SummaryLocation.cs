namespace Retrieval.Index.Seismic;

/// <summary>
/// Finding a query's terms in the summaries of its cut lists before any list is scored. Every step of a lookup is a
/// cache (and TLB) miss (summaries are about 100 MB on a 400k-passage collection) and depends on the one before: the
/// list's stretch of the segment fence, the segment of component ids, the entry offset, the entry run (see
/// <see cref="QuantizedSummaries"/>). Taking each step for all lists before the next, with the next step's lines
/// prefetched, overlaps the misses of all lists instead of paying them one after another (measured figures:
/// docs/BENCHMARKS.md, Seismic).
/// </summary>
internal static class SummaryLocation
{
    /// <summary>
    /// Locates the query's terms in the summaries of every cut list with more than one block, leaving cut slot c's
    /// located runs at [RunStarts[c], RunEnds[c]) of the scratch runs.
    /// </summary>
    public static void Locate(SeismicIndex index, ReadOnlySpan<int> terms, ReadOnlySpan<long> cutOrder, SeismicScratch scratch)
    {
        int[] termBlockStart = index.Postings.TermBlockStart;
        var summaries = index.Summaries;
        int[] runStart = scratch.RunStartsFor(cutOrder.Length);
        int[] runEnd = scratch.RunEnds;
        // 1. Each list's stretch of the fence.
        for (int c = 0; c < cutOrder.Length; c++)
        {
            int term = terms[(int)(uint)cutOrder[c]];
            if (termBlockStart[term + 1] - termBlockStart[term] >= 2) summaries.PrefetchFence(term);
        }
        // 2. Search the fence for every query term; prefetch the one segment of component ids that can hold it.
        int segments = 0;
        for (int c = 0; c < cutOrder.Length; c++)
        {
            runStart[c] = segments;
            int term = terms[(int)(uint)cutOrder[c]];
            if (termBlockStart[term + 1] - termBlockStart[term] < 2) continue;
            var runs = scratch.SummaryRunsFor(segments + terms.Length);
            segments += summaries.FindSegments(term, terms, runs.AsSpan(segments, terms.Length));
        }
        runStart[cutOrder.Length] = segments;
        // 3. Search the segments; prefetch the entry offsets of the terms found (runs kept at the front of the slot).
        for (int c = 0; c < cutOrder.Length; c++)
        {
            runEnd[c] = runStart[c];
            if (runStart[c + 1] == runStart[c]) continue;
            int term = terms[(int)(uint)cutOrder[c]];
            runEnd[c] += summaries.SearchSegments(term, terms, scratch.SummaryRuns.AsSpan(runStart[c], runStart[c + 1] - runStart[c]));
        }
        // 4. Read the offsets; prefetch the entry runs (and the first list's block parameters: it is scored next).
        bool first = true;
        for (int c = 0; c < cutOrder.Length; c++)
        {
            int term = terms[(int)(uint)cutOrder[c]];
            int firstBlock = termBlockStart[term], blockCount = termBlockStart[term + 1] - firstBlock;
            if (blockCount < 2) continue;
            summaries.ResolveRuns(term, scratch.SummaryRuns.AsSpan(runStart[c], runEnd[c] - runStart[c]));
            if (first) summaries.PrefetchBlockParameters(firstBlock, blockCount);
            first = false;
        }
    }

    /// <summary>
    /// Prefetches what scoring the summaries of the first list from cut slot <paramref name="from"/> on that has them
    /// will read: its entry runs and its blocks' dequantisation parameters (fetched once by <see cref="Locate"/>, but
    /// that burst comes too early for all but the first list: most of it is gone or was dropped by then). Called before
    /// the previous list's documents are scored, so they arrive in the meantime.
    /// </summary>
    public static void PrefetchNext(SeismicIndex index, ReadOnlySpan<int> terms, ReadOnlySpan<long> cutOrder, int from, SeismicScratch scratch)
    {
        int[] termBlockStart = index.Postings.TermBlockStart;
        int[] runStart = scratch.RunStarts;
        for (int n = from; n < cutOrder.Length; n++)
        {
            int term = terms[(int)(uint)cutOrder[n]];
            int firstBlock = termBlockStart[term], blockCount = termBlockStart[term + 1] - firstBlock;
            if (blockCount < 2) continue;
            index.Summaries.PrefetchRuns(scratch.SummaryRuns.AsSpan(runStart[n], scratch.RunEnds[n] - runStart[n]));
            index.Summaries.PrefetchBlockParameters(firstBlock, blockCount);
            return;
        }
    }
}
