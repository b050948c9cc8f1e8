using Retrieval.Index.Vectors;

namespace Retrieval.Index.Formats;

/// <summary>Every element encoding a matrix file may hold (a superset of the vector <see cref="ElementType"/>s).</summary>
internal enum StoredElement
{
    Float32,
    Float16,
    UInt8,
    Int8,
    Int32,
    Int64,
    Float64,
}

internal static class StoredElementExtensions
{
    public static int SizeInBytes(this StoredElement e) => e switch
    {
        StoredElement.Float32 or StoredElement.Int32 => 4,
        StoredElement.Float16 => 2,
        StoredElement.UInt8 or StoredElement.Int8 => 1,
        StoredElement.Int64 or StoredElement.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(e)),
    };

    public static string ToName(this StoredElement e) => e switch
    {
        StoredElement.Float32 => "float32",
        StoredElement.Float16 => "float16",
        StoredElement.UInt8 => "uint8",
        StoredElement.Int8 => "int8",
        StoredElement.Int32 => "int32",
        StoredElement.Int64 => "int64",
        StoredElement.Float64 => "float64",
        _ => throw new ArgumentOutOfRangeException(nameof(e)),
    };

    public static bool IsFloatingPoint(this StoredElement e) =>
        e is StoredElement.Float32 or StoredElement.Float16 or StoredElement.Float64;

    public static ElementType? ToVectorElement(this StoredElement e) => e switch
    {
        StoredElement.Float32 => ElementType.Float32,
        StoredElement.Float16 => ElementType.Float16,
        StoredElement.UInt8 => ElementType.UInt8,
        StoredElement.Int8 => ElementType.Int8,
        _ => null,
    };

    public static StoredElement ToStored(this ElementType e) => e switch
    {
        ElementType.Float32 => StoredElement.Float32,
        ElementType.Float16 => StoredElement.Float16,
        ElementType.UInt8 => StoredElement.UInt8,
        ElementType.Int8 => StoredElement.Int8,
        _ => throw new ArgumentOutOfRangeException(nameof(e)),
    };
}
