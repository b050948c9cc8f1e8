namespace Retrieval.Index.Vectors;

/// <summary>How one coordinate of a stored dense vector is encoded.</summary>
public enum ElementType
{
    Float32,
    Float16,
    UInt8,
    Int8,
}

public static class ElementTypeExtensions
{
    public static int SizeInBytes(this ElementType type) => type switch
    {
        ElementType.Float32 => 4,
        ElementType.Float16 => 2,
        ElementType.UInt8 or ElementType.Int8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static string ToName(this ElementType type) => type switch
    {
        ElementType.Float32 => "float32",
        ElementType.Float16 => "float16",
        ElementType.UInt8 => "uint8",
        ElementType.Int8 => "int8",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
