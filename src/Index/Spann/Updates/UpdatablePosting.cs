using System.Runtime.InteropServices;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>Where a posting's bytes lie on disk: the build's postings.bin (version 0 of every row) or the side file.</summary>
internal readonly record struct PostingExtent(bool InSideFile, long Offset, int Pages, int Rows, uint Checksum);

/// <summary>
/// One posting list of an <see cref="UpdatableSpannIndex"/>, immutable: an update builds a new one (copy-on-write)
/// and swaps it into the posting table, so a search scans whichever whole version it read, never a half-written one.
/// Rows are (id, version, stored vector, cosine factor); an entry is live only while its version is the id's
/// current one in the <see cref="VersionMap"/>, so stale replicas and deleted vectors are skipped without locks and
/// dropped whenever the posting is rewritten.
/// </summary>
internal sealed class UpdatablePosting
{
    /// <summary>A new empty posting (never a shared instance: <see cref="Persisted"/> is per object and per index).</summary>
    public static UpdatablePosting Empty => new([], [], [], []);

    private readonly int[]? _ids;
    private readonly byte[]? _versions;
    private readonly byte[]? _vectors;
    private readonly float[]? _factors;
    private readonly int _rows;

    public UpdatablePosting(int[] ids, byte[] versions, byte[] vectors, float[] factors)
    {
        _ids = ids;
        _versions = versions;
        _vectors = vectors;
        _factors = factors;
        _rows = ids.Length;
    }

    private UpdatablePosting(PostingExtent extent)
    {
        _rows = extent.Rows;
        Persisted = extent;
    }

    /// <summary>
    /// A posting held only as its on-disk extent (after open, and after a checkpoint wrote it): its rows are read on
    /// demand (<see cref="PostingReader"/>). Row accessors throw on it.
    /// </summary>
    public static UpdatablePosting OnDisk(PostingExtent extent) => new(extent);

    /// <summary>False for an <see cref="OnDisk"/> posting (only its extent and row count are in memory).</summary>
    public bool IsLoaded => _ids is not null;
    public int Count => _rows;
    public int[] Ids => _ids ?? throw NotLoaded();
    public byte[] Versions => _versions ?? throw NotLoaded();
    /// <summary>Rows in the posting storage element (f32 or f16), row-major.</summary>
    public byte[] Vectors => _vectors ?? throw NotLoaded();
    /// <summary>Cosine: 1/|stored row| per row; empty for L2 and inner product.</summary>
    public float[] Factors => _factors ?? throw NotLoaded();

    /// <summary>Where the last checkpoint (or the build) holds exactly these rows; null until a checkpoint writes them.</summary>
    public PostingExtent? Persisted { get; set; }

    public long ResidentBytes => IsLoaded ? (long)Count * 5 + _vectors!.Length + (long)_factors!.Length * 4 + 64 : 64;

    private static InvalidOperationException NotLoaded() =>
        new("posting rows are on disk only: load them through PostingReader.Load first");

    public int LiveCount(VersionMap versions)
    {
        int n = 0;
        for (int r = 0; r < Ids.Length; r++) if (versions.IsCurrent(Ids[r], Versions[r])) n++;
        return n;
    }

    /// <summary>Builds postings row by row (the rewrite of one posting: kept rows, then appended ones).</summary>
    public sealed class Builder(int rowBytes, bool hasFactor)
    {
        private readonly List<int> _ids = [];
        private readonly List<byte> _versions = [];
        private readonly List<float> _factors = [];
        private readonly MemoryStream _vectors = new();

        public int Count => _ids.Count;

        public void Add(int id, byte version, ReadOnlySpan<byte> vector, float factor)
        {
            _ids.Add(id);
            _versions.Add(version);
            if (hasFactor) _factors.Add(factor);
            _vectors.Write(vector[..rowBytes]);
        }

        /// <summary>Adds the rows of <paramref name="source"/> still current in <paramref name="versions"/> (the garbage collection of a rewrite).</summary>
        public void AddLive(UpdatablePosting source, VersionMap versions, HashSet<int>? seen = null)
        {
            for (int r = 0; r < source.Count; r++)
            {
                int id = source.Ids[r];
                if (!versions.IsCurrent(id, source.Versions[r])) continue;
                if (seen is not null && !seen.Add(id)) continue;
                Add(id, source.Versions[r], source.Row(r, rowBytes), hasFactor ? source.Factors[r] : 0);
            }
        }

        public UpdatablePosting Build() =>
            _ids.Count == 0 ? Empty : new([.. _ids], [.. _versions], _vectors.ToArray(), hasFactor ? [.. _factors] : []);
    }

    public ReadOnlySpan<byte> Row(int r, int rowBytes) => Vectors.AsSpan(r * rowBytes, rowBytes);
}

/// <summary>
/// The byte layout of a posting in the side file (postings-updated.bin): like <see cref="PostingLayout"/> with a
/// version byte per row, so the SPTAG page rule holds (limit = pages x 4096 / (vector bytes + 4-byte id + 1-byte
/// version [+ 4-byte cosine factor])). One posting of n rows, at a 4 KiB-aligned offset, padded to whole pages:
/// <code>
///   int32 ids[n]; uint8 versions[n]; (zero padding to 4); float factor[n] if cosine; (zero padding to 64);
///   element vectors[n][dimension]; (zero padding to the next 4 KiB page)
/// </code>
/// </summary>
internal readonly struct SidePostingLayout(int rowBytes, bool hasFactor)
{
    public int RowBytes => rowBytes;
    public bool HasFactor => hasFactor;

    public static SidePostingLayout For(PostingLayout layout) => new(layout.RowBytes, layout.HasFactor);

    public static int FactorOffset(int n) => PostingLayout.AlignUp(n * 5, 4);
    public int VectorsOffset(int n) => PostingLayout.AlignUp(FactorOffset(n) + (hasFactor ? n * 4 : 0), PostingLayout.VectorAlignment);

    public long Bytes(int n) => VectorsOffset(n) + (long)n * rowBytes;
    public int Pages(int n) => (int)Math.Max(1, (Bytes(n) + PostingLayout.PageBytes - 1) / PostingLayout.PageBytes);

    /// <summary>Most rows <paramref name="pages"/> pages hold.</summary>
    public int Capacity(int pages)
    {
        int n = (int)((long)pages * PostingLayout.PageBytes / (5 + (hasFactor ? 4 : 0) + rowBytes));
        while (n > 0 && Bytes(n) > (long)pages * PostingLayout.PageBytes) n--;
        return n;
    }

    public byte[] Encode(UpdatablePosting p)
    {
        int n = p.Count;
        var bytes = new byte[(long)Pages(n) * PostingLayout.PageBytes];
        MemoryMarshal.AsBytes(p.Ids.AsSpan()).CopyTo(bytes);
        p.Versions.CopyTo(bytes.AsSpan(n * 4));
        if (hasFactor) MemoryMarshal.AsBytes(p.Factors.AsSpan()).CopyTo(bytes.AsSpan(FactorOffset(n)));
        p.Vectors.CopyTo(bytes.AsSpan(VectorsOffset(n)));
        return bytes;
    }

    public UpdatablePosting Decode(ReadOnlySpan<byte> bytes, int n)
    {
        var ids = MemoryMarshal.Cast<byte, int>(bytes[..(n * 4)]).ToArray();
        var versions = bytes.Slice(n * 4, n).ToArray();
        var factors = hasFactor ? MemoryMarshal.Cast<byte, float>(bytes.Slice(FactorOffset(n), n * 4)).ToArray() : [];
        var vectors = bytes.Slice(VectorsOffset(n), n * rowBytes).ToArray();
        return new UpdatablePosting(ids, versions, vectors, factors);
    }

    /// <summary>A posting of the build's postings.bin (no version column): every row is version 0.</summary>
    public static UpdatablePosting DecodeBase(ReadOnlySpan<byte> bytes, int n, PostingLayout layout)
    {
        var ids = MemoryMarshal.Cast<byte, int>(bytes[..(n * 4)]).ToArray();
        var factors = layout.HasFactor ? MemoryMarshal.Cast<byte, float>(bytes.Slice(PostingLayout.FactorOffset(n), n * 4)).ToArray() : [];
        var vectors = bytes.Slice(layout.VectorsOffset(n), n * layout.RowBytes).ToArray();
        return new UpdatablePosting(ids, new byte[n], vectors, factors);
    }
}

/// <summary>Decodes stored posting rows back to float32 (split clustering and reassign need the vectors).</summary>
internal static class PostingRows
{
    public static void Decode(ReadOnlySpan<byte> stored, SpannStorage storage, Span<float> destination)
    {
        if (storage == SpannStorage.Float32) MemoryMarshal.Cast<byte, float>(stored).CopyTo(destination);
        else System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(stored), destination);
    }

    /// <summary>The row in the geometry heads live in (squared L2; unit length under cosine).</summary>
    public static void DecodeGeometry(ReadOnlySpan<byte> stored, SpannStorage storage, Metric metric, Span<float> destination)
    {
        Decode(stored, storage, destination);
        if (metric == Metric.Cosine) SpannBuilder.Prepare(destination, destination, metric);
    }
}
