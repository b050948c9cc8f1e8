namespace Retrieval.Query.Engine;

/// <summary>
/// Fuses two ranked candidate lists (dense and sparse) into one. Candidates are identified by a location id that
/// is the same in both lists. Goodness values are higher-is-better.
/// </summary>
internal static class HybridFusion
{
    public readonly record struct Candidate(long Location, float Goodness);

    public static List<Candidate> Fuse(ReadOnlySpan<Candidate> dense, ReadOnlySpan<Candidate> sparse, FusionMethod method,
        float denseWeight, float sparseWeight, int rrfConstant, int k)
    {
        var fused = new Dictionary<long, float>(dense.Length + sparse.Length);
        if (method == FusionMethod.ReciprocalRank)
        {
            AddRanks(fused, dense, denseWeight, rrfConstant);
            AddRanks(fused, sparse, sparseWeight, rrfConstant);
        }
        else
        {
            AddNormalised(fused, dense, denseWeight);
            AddNormalised(fused, sparse, sparseWeight);
        }
        var all = new List<Candidate>(fused.Count);
        foreach (var (location, score) in fused) all.Add(new Candidate(location, score));
        // Best first; equal scores by location so results are deterministic.
        all.Sort(static (a, b) => a.Goodness != b.Goodness ? b.Goodness.CompareTo(a.Goodness) : a.Location.CompareTo(b.Location));
        if (all.Count > k) all.RemoveRange(k, all.Count - k);
        return all;
    }

    private static void AddRanks(Dictionary<long, float> fused, ReadOnlySpan<Candidate> list, float weight, int constant)
    {
        for (int i = 0; i < list.Length; i++)
        {
            float add = weight / (constant + i + 1);
            fused[list[i].Location] = fused.GetValueOrDefault(list[i].Location) + add;
        }
    }

    private static void AddNormalised(Dictionary<long, float> fused, ReadOnlySpan<Candidate> list, float weight)
    {
        if (list.Length == 0) return;
        float max = float.NegativeInfinity, min = float.PositiveInfinity;
        foreach (var c in list)
        {
            max = Math.Max(max, c.Goodness);
            min = Math.Min(min, c.Goodness);
        }
        float range = max - min;
        foreach (var c in list)
        {
            // A list whose scores are all equal gives every entry 1: each is as good as the best.
            float normalised = range > 0 ? (c.Goodness - min) / range : 1f;
            fused[c.Location] = fused.GetValueOrDefault(c.Location) + weight * normalised;
        }
    }
}
