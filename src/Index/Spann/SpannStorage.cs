using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>How posting vectors are stored: float32, float16, or int8 with a per-vector scale.</summary>
public enum SpannStorage
{
    Float32,
    Float16,
    Int8,
}

public static class SpannStorageExtensions
{
    public static string ToName(this SpannStorage storage) => storage switch
    {
        SpannStorage.Float32 => "f32",
        SpannStorage.Float16 => "f16",
        SpannStorage.Int8 => "i8",
        _ => throw new ArgumentOutOfRangeException(nameof(storage)),
    };

    /// <summary>
    /// The default posting storage for <paramref name="input"/> vectors: the smallest storage that holds the input
    /// exactly, so no full-precision copy or re-rank is needed. float16 and uint8 input -> f16 (minilm-passages, float16:
    /// f16 postings read 22-23% fewer bytes per query and reach higher recall at the same heads than f32, because a
    /// page-capped posting holds twice the vectors; docs/BENCHMARKS.md, SPANN); int8 -> i8; float32 -> f32 (f16 would
    /// be lossy and need a full-precision copy to re-rank from, unmeasured on float32 input: pass f16 explicitly).
    /// </summary>
    public static SpannStorage DefaultFor(ElementType input) => input switch
    {
        ElementType.Float16 or ElementType.UInt8 => SpannStorage.Float16,
        ElementType.Int8 => SpannStorage.Int8,
        _ => SpannStorage.Float32,
    };

    public static SpannStorage ParseStorage(string name) => name.Trim().ToLowerInvariant() switch
    {
        "f32" or "float32" => SpannStorage.Float32,
        "f16" or "float16" => SpannStorage.Float16,
        "i8" or "int8" => SpannStorage.Int8,
        _ => Guard.ThrowInvalid<SpannStorage>($"unknown storage '{name}': expected f32, f16 or i8"),
    };

    internal static int ElementBytes(this SpannStorage storage) => storage switch
    {
        SpannStorage.Float32 => 4,
        SpannStorage.Float16 => 2,
        _ => 1,
    };

    /// <summary>
    /// True when storing <paramref name="source"/> values this way loses information, so search must re-rank its
    /// final candidates from the full-precision copy (f16 holds uint8 and float16 values exactly).
    /// </summary>
    public static bool IsLossyFor(this SpannStorage storage, ElementType source) => storage switch
    {
        SpannStorage.Float32 => false,
        SpannStorage.Float16 => source is ElementType.Float32,
        _ => source is not ElementType.Int8,
    };
}
