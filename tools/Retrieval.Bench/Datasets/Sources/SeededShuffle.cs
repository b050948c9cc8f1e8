namespace Retrieval.Bench.Datasets.Sources;

/// <summary>
/// A Fisher-Yates shuffle driven by SplitMix64, spelled out here so a seed gives the same order on every
/// runtime and version (System.Random's seeded sequence is not a documented contract).
/// </summary>
public static class SeededShuffle
{
    public static void Shuffle<T>(IList<T> items, ulong seed)
    {
        var state = seed;
        for (int i = items.Count - 1; i > 0; i--)
        {
            // Multiply-high maps 64 random bits onto [0, i]; the bias is below 2^-32 for lists of this size.
            int j = (int)(((UInt128)Next(ref state) * (ulong)(i + 1)) >> 64);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014).</summary>
    public static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
