using Retrieval.Index.Attention;

namespace Retrieval.Query.Attention;

/// <summary>
/// One search scratch (visited stamps, heaps, k-long id/score work arrays) per thread, reused across calls, so a
/// head-query allocates nothing once a thread has warmed up.
/// </summary>
internal static class ScratchPool
{
    [ThreadStatic] private static BeamSearchScratch? t_scratch;
    [ThreadStatic] private static int[]? t_ids;
    [ThreadStatic] private static float[]? t_scores;

    public static BeamSearchScratch Rent() => t_scratch ??= new BeamSearchScratch();

    public static int[] Ids(int k)
    {
        var ids = t_ids;
        if (ids is null || ids.Length < k) t_ids = ids = new int[k];
        return ids;
    }

    public static float[] Scores(int k)
    {
        var scores = t_scores;
        if (scores is null || scores.Length < k) t_scores = scores = new float[k];
        return scores;
    }
}
