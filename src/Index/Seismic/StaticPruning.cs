namespace Retrieval.Index.Seismic;

/// <summary>
/// Static pruning of the inverted lists (paper section 4.1): each term keeps only its heaviest postings, either a fixed
/// lambda per list or the largest AvgPostings x vocabulary postings overall with a per-list cap. Output lists are
/// ordered by weight descending, ties by ascending doc id, so the result is deterministic.
/// </summary>
internal static class StaticPruning
{
    /// <summary>Kept postings: term t's are Docs[Start[t] .. Start[t+1]) (weights in the same slots of Weights).</summary>
    internal sealed record Result(long[] Start, int[] Docs, float[] Weights);

    public static Result Prune(TransposedPostings postings, SeismicBuildOptions options)
    {
        int vocabulary = postings.VocabularySize;
        long perListCap = options.Pruning switch
        {
            PostingPruning.None => long.MaxValue,
            PostingPruning.FixedLambda => options.Lambda,
            PostingPruning.GlobalBudget => Math.Max(1, (long)Math.Floor(options.MaxFraction * options.AvgPostings)),
            _ => throw new ArgumentOutOfRangeException(nameof(options)),
        };

        // Pass 1: every list sorted by weight descending and cut to the per-list cap.
        var start = new long[vocabulary + 1];
        for (int t = 0; t < vocabulary; t++) start[t + 1] = start[t] + Math.Min(postings.LengthOf(t), perListCap);
        var docs = new int[start[vocabulary]];
        var weights = new float[docs.Length];
        var sortKeys = new long[MaxListLength(postings)];
        for (int t = 0; t < vocabulary; t++)
        {
            var listDocs = postings.DocsOf(t);
            if (listDocs.IsEmpty) continue;
            var listWeights = postings.WeightsOf(t);
            var keys = sortKeys.AsSpan(0, listDocs.Length);
            for (int i = 0; i < keys.Length; i++) keys[i] = HeavierFirstKey(listWeights[i], listDocs[i]);
            keys.Sort();
            int kept = (int)(start[t + 1] - start[t]);
            for (int i = 0; i < kept; i++)
            {
                int doc = (int)(uint)keys[i];
                docs[start[t] + i] = doc;
                weights[start[t] + i] = WeightOf(keys[i]);
            }
        }
        if (options.Pruning != PostingPruning.GlobalBudget) return new Result(start, docs, weights);

        long budget = (long)Math.Min(long.MaxValue / 2, Math.Floor(options.AvgPostings * vocabulary));
        if (docs.LongLength <= budget) return new Result(start, docs, weights);

        // Pass 2: a global weight threshold keeping exactly `budget` postings; ties at the threshold go to lower term
        // ids first, then heavier-first list order (deterministic).
        var sorted = (float[])weights.Clone();
        Array.Sort(sorted);
        float threshold = sorted[sorted.LongLength - budget];
        long above = 0;
        for (long i = sorted.LongLength - 1; i >= 0 && sorted[i] > threshold; i--) above++;
        long tiesAllowed = budget - above;
        var keptStart = new long[vocabulary + 1];
        var keptDocs = new int[budget];
        var keptWeights = new float[budget];
        long cursor = 0;
        for (int t = 0; t < vocabulary; t++)
        {
            for (long p = start[t]; p < start[t + 1]; p++)
            {
                float w = weights[p];
                if (w > threshold || (w == threshold && tiesAllowed-- > 0))
                {
                    keptDocs[cursor] = docs[p];
                    keptWeights[cursor++] = w;
                }
            }
            keptStart[t + 1] = cursor;
        }
        return new Result(keptStart, keptDocs, keptWeights);
    }

    /// <summary>
    /// Weights are non-negative (validated), so their IEEE bit patterns order like the values; the key sorts ascending
    /// as (weight descending, doc id ascending).
    /// </summary>
    private static long HeavierFirstKey(float weight, int doc) =>
        ((long)(int.MaxValue - BitConverter.SingleToInt32Bits(weight)) << 32) | (uint)doc;

    private static float WeightOf(long key) => BitConverter.Int32BitsToSingle(int.MaxValue - (int)(key >> 32));

    private static int MaxListLength(TransposedPostings postings)
    {
        int max = 0;
        for (int t = 0; t < postings.VocabularySize; t++) max = Math.Max(max, postings.LengthOf(t));
        return max;
    }
}
