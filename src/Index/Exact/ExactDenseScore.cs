using System.Runtime.CompilerServices;

namespace Retrieval.Index.Exact;

/// <summary>
/// Maps a raw reduction (dot product or squared distance) to "goodness" (higher is better, what
/// <see cref="Search.TopKHeap"/> keeps) and goodness back to the metric's natural score. One struct per metric,
/// passed as a generic argument, so the scan loop is compiled once per metric with no branch on it.
/// </summary>
internal interface IExactDenseScore
{
    /// <summary>Goodness of base row <paramref name="row"/> given its raw reduction with the query.</summary>
    static abstract float Goodness(float raw, ref float rowInverseNorms, int row);

    /// <summary>The natural score (squared distance, dot product, cosine) for a kept goodness.</summary>
    static abstract float Natural(float goodness, float queryInverseNorm);
}

internal readonly struct L2Score : IExactDenseScore
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Goodness(float raw, ref float rowInverseNorms, int row) => -raw;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Natural(float goodness, float queryInverseNorm) => -goodness;
}

internal readonly struct InnerProductScore : IExactDenseScore
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Goodness(float raw, ref float rowInverseNorms, int row) => raw;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Natural(float goodness, float queryInverseNorm) => goodness;
}

/// <summary>
/// Ranks by dot * (1/|x|); the positive per-query factor 1/|q| cannot change the order, so it is applied only to
/// the k results. A zero row has inverse norm 0 and a zero query has 1/|q| = 0: both score 0.
/// </summary>
internal readonly struct CosineScore : IExactDenseScore
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Goodness(float raw, ref float rowInverseNorms, int row) => raw * Unsafe.Add(ref rowInverseNorms, row);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Natural(float goodness, float queryInverseNorm) => goodness * queryInverseNorm;
}
