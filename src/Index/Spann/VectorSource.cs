using System.Numerics.Tensors;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>
/// The build's input, read as a sequence of row chunks so a file larger than memory streams (a fresh pass per
/// call to <see cref="Chunks"/>): a dense vector file through <see cref="DenseVectorFile.OpenReader"/>, or
/// vectors already in memory (the embedded API and tests).
/// </summary>
internal sealed class VectorSource
{
    private readonly string? _path;
    private readonly DenseVectors? _vectors;
    private readonly int _chunkRows;
    private readonly long? _maxRows;

    private VectorSource(string? path, DenseVectors? vectors, long count, int dimension, ElementType element, int chunkRows, long? maxRows = null)
    {
        _maxRows = maxRows;
        _path = path;
        _vectors = vectors;
        Count = count;
        Dimension = dimension;
        ElementType = element;
        _chunkRows = chunkRows;
    }

    public long Count { get; }
    public int Dimension { get; }
    public ElementType ElementType { get; }
    public string Description => _path ?? "in-memory vectors";

    /// <summary>A file, streamed in chunks of <paramref name="chunkRows"/> (0 = about 16 MiB, one reused buffer); <paramref name="maxRows"/> keeps only the first rows.</summary>
    public static VectorSource FromFile(string path, int chunkRows = 0, long? maxRows = null)
    {
        if (!File.Exists(path)) throw new RetrievalException(ErrorKind.NotFound, $"input vector file not found: {path}");
        if (maxRows is < 0) Guard.ThrowInvalid($"row limit must be >= 0, got {maxRows}");
        var info = DenseVectorFile.ReadHeader(path);
        long count = Math.Min(info.Count, maxRows ?? long.MaxValue);
        return new VectorSource(path, null, count, info.Dimension, info.ElementType, chunkRows, maxRows);
    }

    public static VectorSource FromVectors(DenseVectors vectors, int chunkRows = 0) =>
        new(null, vectors ?? throw new ArgumentNullException(nameof(vectors)), vectors.Count, vectors.Dimension, vectors.ElementType, chunkRows);

    /// <summary>Consecutive chunks (first row id, rows). Non-finite values are passed through: the builder decides.</summary>
    public IEnumerable<(long FirstRow, DenseVectors Rows)> Chunks()
    {
        if (_vectors is not null)
        {
            int step = _chunkRows > 0 ? _chunkRows : Math.Max(1, (16 << 20) / Math.Max(1, _vectors.RowBytes));
            for (int start = 0; start < _vectors.Count; start += step)
                yield return (start, _vectors.Slice(start, Math.Min(step, _vectors.Count - start)));
            yield break;
        }
        int rowBytes = Dimension * ElementType.SizeInBytes();
        int rows = _chunkRows > 0 ? _chunkRows : Math.Max(1, FileChunkBytes / rowBytes);
        using var reader = DenseVectorFile.OpenReader(_path!, rows, new DenseReadOptions { AllowNonFinite = true, MaxRows = _maxRows });
        // One buffer for every chunk of every pass: the build re-streams the file once per posting write window, and
        // a fresh chunk array each time piled up in the large-object heap (most of a build's resident peak).
        if (_chunkBuffer is null || _chunkBuffer.Length != (long)rows * rowBytes) _chunkBuffer = GC.AllocateUninitializedArray<byte>(checked(rows * rowBytes));
        var buffer = _chunkBuffer;
        while (true)
        {
            long first = reader.RowsRead;
            int read = reader.ReadRows(buffer);
            if (read == 0) yield break;
            var data = read == rows ? buffer : buffer.AsSpan(0, read * rowBytes).ToArray();
            yield return (first, new DenseVectors(ElementType, read, Dimension, data));
        }
    }

    /// <summary>Bytes of one chunk streamed from a file (consumers copy out of it before asking for the next).</summary>
    private const int FileChunkBytes = 16 << 20;
    private byte[]? _chunkBuffer;

    /// <summary>Decodes row <paramref name="row"/> to float32; returns false if it holds NaN or infinity.</summary>
    internal static bool DecodeFinite(DenseVectors rows, int row, Span<float> destination)
    {
        rows.CopyRowTo(row, destination);
        // The largest magnitude is NaN if any value is NaN and infinite if any is: one SIMD pass detects both.
        return destination.IsEmpty || float.IsFinite(TensorPrimitives.MaxMagnitude(destination));
    }
}
