using System.Buffers.Binary;
using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Storage;

/// <summary>
/// Read-only support for the retired 48-byte header framing (checksummed with <see cref="ContentHash64"/>), kept so
/// directories written before the single <see cref="ChecksummedBinaryFile"/> framing still open. It serves SPANN
/// format versions 1 and 2 (heads.bin, graph.bin, directory.bin, postings.bin, vectors.bin) and engine segment
/// files of version 1 (rows.bin, records.bin); nothing writes it any more.
/// Layout (little-endian): magic[8], version u32, header bytes u32, payload offset u64, payload length u64,
/// payload checksum u64, header checksum u64 (over the preceding 40 bytes).
/// </summary>
internal readonly record struct LegacyIndexFileHeader(string Magic, int Version, long PayloadOffset, long PayloadLength, ulong PayloadChecksum)
{
    public const int Size = 48;

    /// <summary>
    /// Parses and checks a header: magic, supported version range, header checksum, and that the payload fits
    /// in a file of <paramref name="fileLength"/> bytes. Errors are <see cref="DataFormatException"/>s naming the file.
    /// </summary>
    public static LegacyIndexFileHeader Read(string path, ReadOnlySpan<byte> source, long fileLength, string expectedMagic,
        int oldestVersion, int currentVersion)
    {
        if (fileLength < Size || source.Length < Size)
            throw new DataFormatException(path, $"file is {fileLength} bytes, shorter than its {Size}-byte header (truncated?)", byteOffset: 0);
        var magic = Encoding.ASCII.GetString(source[..8]);
        if (magic != expectedMagic)
            throw new DataFormatException(path, $"expected magic '{expectedMagic}', found '{Printable(magic)}' (not this kind of file)",
                byteOffset: 0, kind: ErrorKind.Incompatible);
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(source[40..]);
        if (stored != ContentHash64.Of(source[..40]))
            throw new DataFormatException(path, "header checksum mismatch (the header is corrupt)", byteOffset: 0);
        int version = (int)BinaryPrimitives.ReadUInt32LittleEndian(source[8..]);
        if (version < oldestVersion || version > currentVersion)
            throw new DataFormatException(path,
                $"format version {version} is not readable by this build (reads {oldestVersion}..{currentVersion}); rebuild the index with this build",
                byteOffset: 8, kind: ErrorKind.Incompatible);
        long offset = BinaryPrimitives.ReadInt64LittleEndian(source[16..]);
        long length = BinaryPrimitives.ReadInt64LittleEndian(source[24..]);
        if (offset < Size || length < 0 || offset + length != fileLength)
            throw new DataFormatException(path,
                $"payload of {length} bytes at offset {offset} does not match the file length {fileLength} (truncated or extended)", byteOffset: 16);
        return new LegacyIndexFileHeader(magic, version, offset, length, BinaryPrimitives.ReadUInt64LittleEndian(source[32..]));
    }

    /// <summary>Reads and checks the header of a file too large to read whole (its payload is not hashed here).</summary>
    public static LegacyIndexFileHeader ReadFrom(string path, string expectedMagic, int oldestVersion, int currentVersion)
    {
        Span<byte> header = stackalloc byte[Size];
        using var handle = File.OpenHandle(path);
        long length = RandomAccess.GetLength(handle);
        int n = RandomAccess.Read(handle, header, 0);
        return Read(path, header[..n], length, expectedMagic, oldestVersion, currentVersion);
    }

    /// <summary>Streams the payload through <see cref="ContentHash64"/> (4 MiB at a time) and compares it with the header's.</summary>
    public void VerifyPayload(string path)
    {
        using var handle = File.OpenHandle(path, options: FileOptions.SequentialScan);
        var buffer = new byte[4 << 20];
        var sum = ContentHash64.Create();
        for (long at = PayloadOffset; at < PayloadOffset + PayloadLength;)
        {
            int want = (int)Math.Min(buffer.Length, PayloadOffset + PayloadLength - at);
            int n = RandomAccess.Read(handle, buffer.AsSpan(0, want), at);
            if (n <= 0) throw new DataFormatException(path, "unexpected end of file while verifying", byteOffset: at);
            sum.Append(buffer.AsSpan(0, n));
            at += n;
        }
        if (sum.Finish() != PayloadChecksum)
            throw new DataFormatException(path, "payload checksum mismatch: the file is corrupt (bytes changed since it was built)");
    }

    private static string Printable(string s)
    {
        var chars = s.ToCharArray();
        for (int i = 0; i < chars.Length; i++) if (chars[i] < 32 || chars[i] > 126) chars[i] = '?';
        return new string(chars);
    }
}
