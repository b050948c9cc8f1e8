using Retrieval.Index.Errors;

namespace Retrieval.Index.Storage;

/// <summary>
/// A binary index file small enough to read whole (heads, graph, posting directory): header + payload, written
/// atomically (temp name, flush, rename) and verified completely on read.
/// </summary>
public static class SmallIndexFile
{
    public static ulong Write(string path, string magic, int version, ReadOnlySpan<byte> payload)
    {
        ulong checksum = Checksum64.Of(payload);
        Span<byte> header = stackalloc byte[IndexFileHeader.Size];
        new IndexFileHeader(magic, version, IndexFileHeader.Size, payload.Length, checksum).WriteTo(header);
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(header);
                stream.Write(payload);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return checksum;
    }

    /// <summary>Reads and verifies the file; returns its payload and header.</summary>
    public static (byte[] Payload, IndexFileHeader Header) Read(string path, string magic, int oldestVersion, int currentVersion)
    {
        if (!File.Exists(path)) throw new RetrievalException(ErrorKind.NotFound, $"index file missing: {path}");
        var bytes = File.ReadAllBytes(path);
        var header = IndexFileHeader.Read(path, bytes, bytes.Length, magic, oldestVersion, currentVersion);
        var payload = bytes.AsSpan((int)header.PayloadOffset, (int)header.PayloadLength);
        if (Checksum64.Of(payload) != header.PayloadChecksum)
            throw new DataFormatException(path, "payload checksum mismatch (the file is corrupt)", byteOffset: header.PayloadOffset);
        return (payload.ToArray(), header);
    }
}
