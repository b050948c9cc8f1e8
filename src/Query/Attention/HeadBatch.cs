using Retrieval.Index.Attention;

namespace Retrieval.Query.Attention;

/// <summary>
/// Runs one search or attend per head of a batch, one thread per head-query, spread over the cores. The caller's
/// spans are pinned for the duration so workers can write their slices directly.
/// </summary>
internal static unsafe class HeadBatch
{
    public static void Run(AttentionHeadIndex[] indexes, ReadOnlySpan<float> queries, int k, AttentionSearchParameters parameters,
        Span<int> ids, Span<float> scores, Span<float> outputs, Span<float> logSumExp, Span<int> keysScored, int threads)
    {
        fixed (float* q = queries)
        fixed (int* i = ids)
        fixed (float* s = scores)
        fixed (float* o = outputs)
        fixed (float* l = logSumExp)
        fixed (int* c = keysScored)
        {
            var job = new Job(indexes, k, parameters, q, i, s, o, l, c);
            if (indexes.Length == 1 || threads == 1)
            {
                for (int h = 0; h < indexes.Length; h++) job.RunOne(h);
            }
            else
            {
                Parallel.For(0, indexes.Length, new ParallelOptions { MaxDegreeOfParallelism = threads }, job.RunOne);
            }
        }
    }

    private sealed class Job(AttentionHeadIndex[] indexes, int k, AttentionSearchParameters parameters, float* queries, int* ids,
        float* scores, float* outputs, float* logSumExp, int* keysScored)
    {
        public void RunOne(int h)
        {
            var index = indexes[h];
            int d = index.Dimension;
            var query = new ReadOnlySpan<float>(queries + (long)h * d, d);
            var scratch = ScratchPool.Rent();
            if (outputs == null)
            {
                index.SearchOne(query, k, parameters, new Span<int>(ids + (long)h * k, k), new Span<float>(scores + (long)h * k, k), scratch);
            }
            else
            {
                logSumExp[h] = index.Attend(query, k, parameters, new Span<float>(outputs + (long)h * d, d),
                    ScratchPool.Ids(k).AsSpan(0, k), ScratchPool.Scores(k).AsSpan(0, k), scratch);
            }
            if (keysScored != null) keysScored[h] = scratch.LastKeysScored;
        }
    }
}
