using Retrieval.Index.Errors;

namespace Retrieval.Index.Vectors;

/// <summary>
/// Similarity measure. Scores keep each metric's natural value: squared Euclidean distance for
/// <see cref="L2"/> (smaller is better), dot product for <see cref="InnerProduct"/> and cosine similarity
/// for <see cref="Cosine"/> (larger is better).
/// </summary>
public enum Metric
{
    L2,
    InnerProduct,
    Cosine,
}

public static class MetricExtensions
{
    public static bool HigherIsBetter(this Metric metric) => metric != Metric.L2;

    /// <summary>The spelling used on the command line, in manifests and in JSON: "l2", "ip", "cosine".</summary>
    public static string ToName(this Metric metric) => metric switch
    {
        Metric.L2 => "l2",
        Metric.InnerProduct => "ip",
        Metric.Cosine => "cosine",
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };

    public static Metric ParseMetric(string name) => name.Trim().ToLowerInvariant() switch
    {
        "l2" or "euclidean" or "l2sq" => Metric.L2,
        "ip" or "dot" or "inner_product" or "innerproduct" or "mips" => Metric.InnerProduct,
        "cosine" or "cos" or "angular" => Metric.Cosine,
        _ => Guard.ThrowInvalid<Metric>($"unknown metric '{name}': expected one of l2, ip, cosine"),
    };
}
