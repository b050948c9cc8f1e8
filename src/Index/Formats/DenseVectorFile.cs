using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Dense vector files in any supported container (.fvecs, .bvecs, .fbin, .u8bin, .i8bin, .npy, IDX), detected
/// from the extension and, for npy, the header's dtype. Vectors keep their stored element type (float32,
/// float16, uint8, int8). Every read checks the header against the file length, each vecs row's dimension,
/// and (unless allowed) that float data is finite; problems are <see cref="DataFormatException"/>s naming the
/// file, row and byte offset.
/// </summary>
public static class DenseVectorFile
{
    /// <summary>Reads the whole file (or its first MaxRows rows) into memory.</summary>
    public static DenseVectors Read(string path, DenseReadOptions? options = null)
    {
        options ??= DenseReadOptions.Default;
        options.Validate();
        var header = MatrixFileHeader.Read(path);
        var element = VectorElement(header);
        int rows = MatrixValidation.RowsToRead(header, options.MaxRows, "vector set");
        var data = GC.AllocateUninitializedArray<byte>(rows * header.RowDataBytes);
        using (var source = new MatrixRowSource(header))
        {
            source.ReadRows(data, rows);
            source.EnsureAtEnd();
        }
        if (!options.AllowNonFinite) MatrixValidation.ThrowIfNonFinite(header, data, 0);
        return new DenseVectors(element, rows, header.Dimension, data);
    }

    /// <summary>Format, element type, count and dimension from the header, validated against the file length.</summary>
    public static DenseFileInfo ReadHeader(string path)
    {
        var header = MatrixFileHeader.Read(path);
        return ToInfo(header, VectorElement(header));
    }

    /// <summary>
    /// A reader that hands out consecutive chunks of rows, for files larger than memory.
    /// <paramref name="chunkRows"/> 0 picks about 64 MiB of vectors per chunk.
    /// </summary>
    public static DenseVectorReader OpenReader(string path, int chunkRows = 0, DenseReadOptions? options = null)
    {
        options ??= DenseReadOptions.Default;
        options.Validate();
        if (chunkRows < 0) Guard.ThrowInvalid($"chunkRows must be >= 0, got {chunkRows}");
        var header = MatrixFileHeader.Read(path);
        var info = ToInfo(header, VectorElement(header));
        return new DenseVectorReader(header, info, chunkRows, options);
    }

    /// <summary>
    /// Writes vectors in the format named by the extension (.fvecs float32, .bvecs uint8, .fbin float32,
    /// .u8bin uint8, .i8bin int8, .npy any element type) via a temporary file renamed into place. The element
    /// type must match the format: convert explicitly rather than lose precision silently.
    /// </summary>
    public static void Write(string path, DenseVectors vectors)
    {
        var format = MatrixFileFormats.FromPath(path);
        if (format is MatrixFileFormat.Ivecs or MatrixFileFormat.Ibin or MatrixFileFormat.Idx || FormatFiles.IsGzip(path))
            throw new RetrievalException(ErrorKind.InvalidInput,
                $"{path}: dense vectors cannot be written as .{format.ToName()}{(FormatFiles.IsGzip(path) ? ".gz" : "")}; use .fvecs, .bvecs, .fbin, .u8bin, .i8bin or .npy");
        var element = vectors.ElementType.ToStored();
        var required = MatrixFileWriter.FixedElement(format);
        if (required is { } r && r != element)
            throw new RetrievalException(ErrorKind.InvalidInput,
                $"{path}: .{format.ToName()} holds {r.ToName()} vectors, but these are {element.ToName()}; convert them first or write .npy");
        MatrixFileWriter.Write(path, format, element, vectors.Count, vectors.Dimension, vectors.RawData);
    }

    internal static ElementType VectorElement(MatrixFileHeader header) =>
        header.Element.ToVectorElement() ?? throw new DataFormatException(header.Path,
            $"holds {header.Element.ToName()} values, expected vectors of float32, float16, uint8 or int8 (is this a ground-truth file? read it with IntMatrixFile/FloatMatrixFile)",
            byteOffset: 0, kind: ErrorKind.Incompatible);

    private static DenseFileInfo ToInfo(MatrixFileHeader h, ElementType element) =>
        new(h.Path, h.Format, element, h.Count, h.Dimension, h.DataOffset, h.RowStrideBytes, h.Compressed);
}
