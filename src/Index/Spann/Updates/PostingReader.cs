using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Spann;

/// <summary>The rows of one posting as spans, in memory or over bytes just read from disk (searches scan either).</summary>
internal readonly ref struct PostingRowSpans
{
    public PostingRowSpans(int count, ReadOnlySpan<int> ids, ReadOnlySpan<byte> versions, ReadOnlySpan<float> factors, ReadOnlySpan<byte> vectors)
    {
        Count = count;
        Ids = ids;
        Versions = versions;
        Factors = factors;
        Vectors = vectors;
    }

    public int Count { get; }
    public ReadOnlySpan<int> Ids { get; }
    /// <summary>Empty for a posting of the build's postings.bin: every row is version 0.</summary>
    public ReadOnlySpan<byte> Versions { get; }
    public ReadOnlySpan<float> Factors { get; }
    public ReadOnlySpan<byte> Vectors { get; }

    public byte Version(int r) => Versions.IsEmpty ? (byte)0 : Versions[r];
}

/// <summary>
/// Reads postings that are held only as their extent (<see cref="UpdatablePosting.OnDisk"/>) from the build's
/// postings.bin or the side file: positional reads (<see cref="RandomAccess.Read(SafeFileHandle, Span{byte}, long)"/>)
/// through the page cache, of exactly the posting's bytes. Checksums are verified at open only. Thread-safe: any number
/// of searches and the update path read concurrently (positional reads share no file position).
/// </summary>
internal sealed class PostingReader(SafeFileHandle build, string buildPath, SafeFileHandle side, string sidePath, PostingLayout layout)
{
    private readonly SidePostingLayout _side = SidePostingLayout.For(layout);

    /// <summary>Bytes of the posting at <paramref name="e"/> that hold its rows (page padding excluded).</summary>
    public int Bytes(PostingExtent e) => e.Rows == 0 ? 0 : checked((int)(e.InSideFile ? _side.Bytes(e.Rows) : layout.Bytes(e.Rows)));

    /// <summary><paramref name="posting"/> itself when loaded, else its rows read and decoded (a new, unpublished object).</summary>
    public UpdatablePosting Load(UpdatablePosting posting)
    {
        if (posting.IsLoaded) return posting;
        var e = posting.Persisted!.Value;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, Bytes(e)));
        try
        {
            var bytes = Read(e, buffer);
            var loaded = e.InSideFile ? _side.Decode(bytes, e.Rows) : SidePostingLayout.DecodeBase(bytes, e.Rows, layout);
            loaded.Persisted = e;
            return loaded;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Row spans of <paramref name="posting"/>: its arrays when loaded, else its bytes read into <paramref name="buffer"/> (grown as needed).</summary>
    public PostingRowSpans Rows(UpdatablePosting posting, ref byte[] buffer)
    {
        if (posting.IsLoaded) return new(posting.Count, posting.Ids, posting.Versions, posting.Factors, posting.Vectors);
        var e = posting.Persisted!.Value;
        int need = Bytes(e);
        if (buffer.Length < need) buffer = new byte[Math.Max(need, buffer.Length * 2)];
        ReadOnlySpan<byte> b = Read(e, buffer);
        int n = e.Rows;
        var ids = MemoryMarshal.Cast<byte, int>(b[..(n * 4)]);
        if (e.InSideFile)
        {
            var factors = _side.HasFactor ? MemoryMarshal.Cast<byte, float>(b.Slice(SidePostingLayout.FactorOffset(n), n * 4)) : [];
            return new(n, ids, b.Slice(n * 4, n), factors, b.Slice(_side.VectorsOffset(n), n * layout.RowBytes));
        }
        var baseFactors = layout.HasFactor ? MemoryMarshal.Cast<byte, float>(b.Slice(PostingLayout.FactorOffset(n), n * 4)) : [];
        return new(n, ids, [], baseFactors, b.Slice(layout.VectorsOffset(n), n * layout.RowBytes));
    }

    private Span<byte> Read(PostingExtent e, byte[] buffer)
    {
        var target = buffer.AsSpan(0, Bytes(e));
        ReadExactly(e.InSideFile ? side : build, target, e.Offset, e.InSideFile ? sidePath : buildPath);
        return target;
    }

    public static void ReadExactly(SafeFileHandle handle, Span<byte> target, long offset, string path)
    {
        while (!target.IsEmpty)
        {
            int n = RandomAccess.Read(handle, target, offset);
            if (n <= 0) throw new DataFormatException(path, "file ended early while reading a posting", byteOffset: offset);
            target = target[n..];
            offset += n;
        }
    }
}
