using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>The on-disk container of a dense matrix (vectors, ground-truth ids or scores).</summary>
public enum MatrixFileFormat
{
    /// <summary>Per row: int32 dimension, then float32 values.</summary>
    Fvecs,
    /// <summary>Per row: int32 dimension, then int32 values (ground-truth ids).</summary>
    Ivecs,
    /// <summary>Per row: int32 dimension, then uint8 values.</summary>
    Bvecs,
    /// <summary>big-ann-benchmarks: uint32 count, uint32 dimension, then row-major float32.</summary>
    Fbin,
    /// <summary>big-ann-benchmarks: uint32 count, uint32 dimension, then row-major uint8.</summary>
    U8bin,
    /// <summary>big-ann-benchmarks: uint32 count, uint32 dimension, then row-major int8.</summary>
    I8bin,
    /// <summary>big-ann-benchmarks: uint32 count, uint32 dimension, then row-major int32.</summary>
    Ibin,
    /// <summary>numpy .npy (format versions 1-3, little-endian, C order); the element type comes from the header.</summary>
    Npy,
    /// <summary>IDX (MNIST / Fashion-MNIST): big-endian magic and dimensions, then bytes; optionally gzipped.</summary>
    Idx,
}

public static class MatrixFileFormats
{
    public const string SupportedExtensions =
        ".fvecs, .ivecs, .bvecs, .fbin, .u8bin, .i8bin, .ibin, .npy, *-idx?-ubyte[.gz]";

    /// <summary>The format named by a file's extension; throws InvalidInput for anything else.</summary>
    public static MatrixFileFormat FromPath(string path)
    {
        if (TryFromPath(path, out var format)) return format;
        throw new RetrievalException(ErrorKind.InvalidInput,
            $"{path}: cannot tell the vector file format from the name; supported: {SupportedExtensions}");
    }

    public static bool TryFromPath(string path, out MatrixFileFormat format)
    {
        var name = Path.GetFileName(path).ToLowerInvariant();
        bool gz = name.EndsWith(".gz", StringComparison.Ordinal);
        if (gz) name = name[..^3];
        if (IsIdxName(name))
        {
            format = MatrixFileFormat.Idx;
            return true;
        }
        // Only IDX ships gzipped in practice (MNIST, Debian's dataset packages); a .fvecs.gz cannot be sized up front.
        if (gz)
        {
            format = default;
            return false;
        }
        MatrixFileFormat? found = Path.GetExtension(name) switch
        {
            ".fvecs" => MatrixFileFormat.Fvecs,
            ".ivecs" => MatrixFileFormat.Ivecs,
            ".bvecs" => MatrixFileFormat.Bvecs,
            ".fbin" => MatrixFileFormat.Fbin,
            ".u8bin" => MatrixFileFormat.U8bin,
            ".i8bin" => MatrixFileFormat.I8bin,
            ".ibin" => MatrixFileFormat.Ibin,
            ".npy" => MatrixFileFormat.Npy,
            ".idx" => MatrixFileFormat.Idx,
            _ => null,
        };
        format = found.GetValueOrDefault();
        return found.HasValue;
    }

    private static bool IsIdxName(string name) =>
        name.EndsWith("-ubyte", StringComparison.Ordinal) && name.Contains("idx", StringComparison.Ordinal);

    public static string ToName(this MatrixFileFormat format) => format switch
    {
        MatrixFileFormat.Fvecs => "fvecs",
        MatrixFileFormat.Ivecs => "ivecs",
        MatrixFileFormat.Bvecs => "bvecs",
        MatrixFileFormat.Fbin => "fbin",
        MatrixFileFormat.U8bin => "u8bin",
        MatrixFileFormat.I8bin => "i8bin",
        MatrixFileFormat.Ibin => "ibin",
        MatrixFileFormat.Npy => "npy",
        MatrixFileFormat.Idx => "idx",
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    /// <summary>True when each row on disk starts with its own int32 dimension.</summary>
    internal static bool HasRowPrefix(this MatrixFileFormat format) =>
        format is MatrixFileFormat.Fvecs or MatrixFileFormat.Ivecs or MatrixFileFormat.Bvecs;
}
