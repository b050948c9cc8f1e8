using Microsoft.Extensions.VectorData;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.VectorData;

/// <summary>
/// Maps a VectorData distance function onto the engine's metric and converts the engine's score (squared L2 distance,
/// inner product or cosine similarity) into the function's own units, so callers see the numbers they asked for.
/// </summary>
internal readonly record struct DistanceMapping(string Function, Metric Metric)
{
    /// <summary>Whether larger scores are better in <see cref="Function"/>'s units (similarities) or smaller (distances).</summary>
    public bool HigherIsBetter => Function is DistanceFunction.CosineSimilarity or DistanceFunction.DotProductSimilarity;

    public static DistanceMapping For(string? distanceFunction, string propertyName) => distanceFunction switch
    {
        null or DistanceFunction.CosineSimilarity => new(DistanceFunction.CosineSimilarity, Metric.Cosine),
        DistanceFunction.CosineDistance => new(DistanceFunction.CosineDistance, Metric.Cosine),
        DistanceFunction.DotProductSimilarity => new(DistanceFunction.DotProductSimilarity, Metric.InnerProduct),
        DistanceFunction.NegativeDotProductSimilarity => new(DistanceFunction.NegativeDotProductSimilarity, Metric.InnerProduct),
        DistanceFunction.EuclideanSquaredDistance => new(DistanceFunction.EuclideanSquaredDistance, Metric.L2),
        DistanceFunction.EuclideanDistance => new(DistanceFunction.EuclideanDistance, Metric.L2),
        _ => throw new NotSupportedException(
            $"vector property '{propertyName}' asks for distance function '{distanceFunction}'; the engine supports " +
            $"{DistanceFunction.CosineSimilarity}, {DistanceFunction.CosineDistance}, {DistanceFunction.DotProductSimilarity}, " +
            $"{DistanceFunction.NegativeDotProductSimilarity}, {DistanceFunction.EuclideanDistance} and {DistanceFunction.EuclideanSquaredDistance}"),
    };

    /// <summary>The engine's score for this metric converted to the distance function's units.</summary>
    public double Convert(float engineScore) => Function switch
    {
        DistanceFunction.CosineDistance => 1.0 - engineScore,
        DistanceFunction.NegativeDotProductSimilarity => -(double)engineScore,
        DistanceFunction.EuclideanDistance => Math.Sqrt(Math.Max(0, engineScore)),
        _ => engineScore,
    };

    /// <summary>Whether <paramref name="score"/> (already converted) passes a caller's score threshold.</summary>
    public bool Passes(double score, double? threshold) =>
        threshold is not double t || (HigherIsBetter ? score >= t : score <= t);
}
