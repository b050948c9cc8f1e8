using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>
/// The writer side of a SPANN index directory (the build's algorithm is <see cref="SpannBuilder"/>): posting layout,
/// postings.bin and vectors.bin streamed window by window, heads/graph/directory as small files, and the manifest
/// last. Every file is in <see cref="ChecksummedBinaryFile"/>'s framing and reaches its name through
/// <see cref="AtomicFile"/> (temporary name, flush, rename), so a directory with a manifest holds a complete index.
/// </summary>
internal static class SpannIndexWriter
{
    /// <summary>Creates the directory and removes an earlier manifest, so an interrupted rebuild leaves no index that looks complete.</summary>
    public static void BeginDirectory(string directory)
    {
        Directory.CreateDirectory(directory);
        var manifestPath = Path.Combine(directory, SpannFormat.ManifestFile);
        if (File.Exists(manifestPath)) File.Delete(manifestPath);
    }

    /// <summary>Where each posting goes in postings.bin: consecutive whole pages from <see cref="SpannFormat.DataOffset"/>, in head order.</summary>
    public static PostingDirectory LayOut(PostingLayout layout, int[] lengths)
    {
        int h = lengths.Length;
        var offsets = new long[h];
        var pages = new int[h];
        long at = SpannFormat.DataOffset;
        for (int p = 0; p < h; p++)
        {
            offsets[p] = at;
            pages[p] = layout.Pages(lengths[p]);
            at += (long)pages[p] * PostingLayout.PageBytes;
        }
        return new PostingDirectory(offsets, pages, lengths);
    }

    /// <summary>heads.bin payload: int32 count, dimension, element type; int32 row ids; float inverse norms; raw head rows.</summary>
    public static byte[] HeadPayload(int[] headRows, byte[] headRaw, ElementType element, int count, int d, Metric metric)
    {
        var payload = new byte[12 + count * 8 + headRaw.Length];
        BinaryPrimitives.WriteInt32LittleEndian(payload, count);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(4), d);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(8), (int)element);
        Buffer.BlockCopy(headRows, 0, payload, 12, count * 4);
        var norms = MemoryMarshal.Cast<byte, float>(payload.AsSpan(12 + count * 4, count * 4));
        var rows = new DenseVectors(element, count, d, headRaw);
        var row = new float[d];
        for (int h = 0; h < count; h++)
        {
            rows.CopyRowTo(h, row);
            norms[h] = DenseKernels.InverseNorm(DenseKernels.SquaredNorm(row));
        }
        headRaw.CopyTo(payload.AsSpan(12 + count * 8));
        return payload;
    }

    public static SpannFileEntry WriteSmall(string dir, string name, string magic, byte[] payload)
    {
        var path = Path.Combine(dir, name);
        uint checksum = SmallIndexFile.Write(path, magic, SpannFormat.CurrentVersion, payload);
        return new SpannFileEntry(name, new FileInfo(path).Length, checksum);
    }

    /// <summary>Writes manifest.json (atomically, last); returns the bytes of the whole directory.</summary>
    public static long WriteManifest(string dir, SpannManifest manifest)
    {
        var path = Path.Combine(dir, SpannFormat.ManifestFile);
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(manifest.ToJson()));
        long bytes = new FileInfo(path).Length;
        foreach (var f in manifest.Files) bytes += f.Bytes;
        return bytes;
    }

    /// <summary>
    /// Writes postings.bin window by window (a window is a run of consecutive postings that fits the write
    /// buffer; each window re-streams the input), and vectors.bin on the first pass when re-ranking needs it.
    /// postings.bin is one byte section aligned to a page, so posting p lies at its directory offset in the file.
    /// </summary>
    public static SpannFileEntry WritePostings(VectorSource source, string dir, SpannBuildOptions options, PostingLayout layout,
        PostingAssigner assigner, PostingDirectory directory, bool[] skipped, bool rerank, List<SpannFileEntry> files)
    {
        int d = source.Dimension, r = assigner.ReplicaCount, heads = directory.PostingCount;
        // Slot of each (vector, replica) in its posting: rows of a posting are in vector id order.
        var slots = new int[assigner.Heads.Length];
        var fill = new int[heads];
        for (int v = 0; v < assigner.VectorCount; v++)
            for (int j = 0; j < assigner.Counts[v]; j++) slots[v * r + j] = fill[assigner.Heads[v * r + j]]++;

        var path = Path.Combine(dir, SpannFormat.PostingsFile);
        var encoder = new PostingRowEncoder(layout, options.Metric);
        var row = new float[d];
        var work = new float[d];
        var stored = new byte[layout.RowBytes];
        long end = heads == 0 ? SpannFormat.DataOffset : directory.Offsets[heads - 1] + (long)directory.Pages[heads - 1] * PostingLayout.PageBytes;
        using var writer = new ChecksummedBinaryFile.Writer(path, SpannFormat.PostingsMagic, SpannFormat.CurrentVersion, sections: 1);
        long dataOffset = writer.BeginSection(ChecksummedBinaryFile.Element.UInt8, end - SpannFormat.DataOffset, PostingLayout.PageBytes);
        if (dataOffset != SpannFormat.DataOffset) throw new InvalidOperationException($"posting data starts at {dataOffset}, not {SpannFormat.DataOffset}");
        using var full = rerank ? new FullVectorWriter(Path.Combine(dir, SpannFormat.FullVectorsFile), source) : null;
        bool fullWritten = full is null;
        var windowBuffer = Array.Empty<byte>();
        int p0 = 0;
        while (p0 < heads)
        {
            int p1 = p0;
            long windowBytes = 0;
            while (p1 < heads && (p1 == p0 || windowBytes + (long)directory.Pages[p1] * PostingLayout.PageBytes <= options.WriteBufferBytes))
                windowBytes += (long)directory.Pages[p1++] * PostingLayout.PageBytes;
            // One buffer for every window (cleared, not reallocated): a fresh 64 MiB array per window piles up
            // in the large-object heap until a full GC and was most of pass 3's resident growth.
            if (windowBuffer.Length < windowBytes) windowBuffer = new byte[windowBytes];
            var window = windowBuffer.AsSpan(0, (int)windowBytes);
            window.Clear();
            long windowStart = directory.Offsets[p0];
            foreach (var (first, chunk) in source.Chunks())
            {
                if (!fullWritten) full!.Append(chunk, first, skipped);
                for (int i = 0; i < chunk.Count; i++)
                {
                    int v = (int)(first + i);
                    if (skipped[v]) continue;
                    bool encoded = false;
                    float factor = 0, norm = 0;
                    for (int j = 0; j < assigner.Counts[v]; j++)
                    {
                        int h = assigner.Heads[v * r + j];
                        if (h < p0 || h >= p1) continue;
                        if (!encoded)
                        {
                            chunk.CopyRowTo(i, row);
                            encoder.Encode(row, work, stored, out factor, out norm);
                            encoded = true;
                        }
                        int count = directory.Counts[h], slot = slots[v * r + j];
                        var posting = window.Slice((int)(directory.Offsets[h] - windowStart), directory.Pages[h] * PostingLayout.PageBytes);
                        BinaryPrimitives.WriteInt32LittleEndian(posting[(slot * 4)..], v);
                        if (layout.HasFactor) BinaryPrimitives.WriteSingleLittleEndian(posting[(PostingLayout.FactorOffset(count) + slot * 4)..], factor);
                        if (layout.HasSquaredNorm) BinaryPrimitives.WriteSingleLittleEndian(posting[(PostingLayout.SquaredNormOffset(count) + slot * 4)..], norm);
                        stored.CopyTo(posting[(layout.VectorsOffset(count) + slot * layout.RowBytes)..]);
                    }
                }
            }
            if (!fullWritten) { files.Add(full!.Finish()); fullWritten = true; }
            writer.Append(window);
            p0 = p1;
        }
        if (!fullWritten)
        {
            // No postings (no windows): vectors.bin still needs its one pass over the input.
            foreach (var (first, chunk) in source.Chunks()) full!.Append(chunk, first, skipped);
            files.Add(full!.Finish());
        }
        writer.EndSection();
        uint checksum = writer.Checksum;
        long length = writer.Length;
        writer.Commit();
        return new SpannFileEntry(SpannFormat.PostingsFile, length, checksum);
    }

    /// <summary>vectors.bin: every row in id order in the source element type (skipped rows zero), as one page-aligned section.</summary>
    private sealed class FullVectorWriter : IDisposable
    {
        private readonly ChecksummedBinaryFile.Writer _writer;
        private readonly int _rowBytes;
        private readonly long _dataBytes;
        private long _written;

        public FullVectorWriter(string path, VectorSource source)
        {
            _rowBytes = source.Dimension * source.ElementType.SizeInBytes();
            // Padded to whole pages so an O_DIRECT read of the page holding the last row stays inside the data.
            _dataBytes = PostingLayout.AlignUp(source.Count * _rowBytes, PostingLayout.PageBytes);
            _writer = new ChecksummedBinaryFile.Writer(path, SpannFormat.FullVectorsMagic, SpannFormat.CurrentVersion, sections: 1);
            long offset = _writer.BeginSection(ChecksummedBinaryFile.Element.UInt8, _dataBytes, PostingLayout.PageBytes);
            if (offset != SpannFormat.DataOffset) throw new InvalidOperationException($"vector data starts at {offset}, not {SpannFormat.DataOffset}");
        }

        public void Append(DenseVectors chunk, long first, bool[] skipped)
        {
            var zero = new byte[_rowBytes];
            for (int i = 0; i < chunk.Count; i++)
            {
                var raw = skipped[first + i] ? zero : chunk.RawRow(i);
                _writer.Append(raw);
                _written += raw.Length;
            }
        }

        public SpannFileEntry Finish()
        {
            _writer.Append(new byte[_dataBytes - _written]);
            _writer.EndSection();
            uint checksum = _writer.Checksum;
            long length = _writer.Length;
            _writer.Commit();
            return new SpannFileEntry(SpannFormat.FullVectorsFile, length, checksum);
        }

        public void Dispose() => _writer.Dispose();
    }
}
