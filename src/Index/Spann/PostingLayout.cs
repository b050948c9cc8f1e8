using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>
/// The byte layout of one posting list in postings.bin (the whole on-disk posting format is here).
/// postings.bin = one 4 KiB page holding the <see cref="Storage.ChecksummedBinaryFile"/> header and section head (a <see cref="Storage.LegacyIndexFileHeader"/> before format v3), then the postings, each
/// starting on a 4 KiB page boundary and padded to whole pages, in head order. One posting of n rows:
/// <code>
///   int32 ids[n]                      vector ids (rows of the base file)
///   float factor[n]                   if HasFactor: cosine = 1/|x| of the stored vector; int8 = dequantisation scale
///   float squaredNorm[n]              if HasSquaredNorm (int8 + L2): |scale * q|^2
///   (zero padding to 64 bytes)
///   element vectors[n][dimension]     row-major, f32 / f16 / i8 — scanned four rows at a time by RowKernel
///   (zero padding to the next 4 KiB page)
/// </code>
/// Where a posting starts, its page count and row count live in the posting directory (<see cref="PostingDirectory"/>).
/// </summary>
internal readonly struct PostingLayout
{
    public const int PageBytes = 4096;
    public const int VectorAlignment = 64;

    public PostingLayout(SpannStorage storage, Metric metric, int dimension)
    {
        Storage = storage;
        Dimension = dimension;
        HasFactor = storage == SpannStorage.Int8 || metric == Metric.Cosine;
        HasSquaredNorm = storage == SpannStorage.Int8 && metric == Metric.L2;
        RowBytes = dimension * storage.ElementBytes();
    }

    public SpannStorage Storage { get; }
    public int Dimension { get; }
    public bool HasFactor { get; }
    public bool HasSquaredNorm { get; }
    /// <summary>Bytes of one stored vector.</summary>
    public int RowBytes { get; }

    /// <summary>Metadata bytes per row (id + optional factor + optional norm).</summary>
    public int MetaBytesPerRow => 4 + (HasFactor ? 4 : 0) + (HasSquaredNorm ? 4 : 0);

    public static int FactorOffset(int count) => count * 4;
    public static int SquaredNormOffset(int count) => count * 8;

    public int VectorsOffset(int count) => AlignUp(count * MetaBytesPerRow, VectorAlignment);

    public long Bytes(int count) => VectorsOffset(count) + (long)count * RowBytes;

    public int Pages(int count) => (int)((Bytes(count) + PageBytes - 1) / PageBytes);

    /// <summary>Most rows a posting of <paramref name="pages"/> pages holds.</summary>
    public int Capacity(int pages)
    {
        int n = (int)((long)pages * PageBytes / (MetaBytesPerRow + RowBytes));
        while (n > 0 && Pages(n) > pages) n--;
        return n;
    }

    public static int AlignUp(int value, int alignment) => (value + alignment - 1) / alignment * alignment;
    public static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;
}
