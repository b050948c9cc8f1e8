using System.Buffers.Binary;
using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Storage;

/// <summary>
/// The fixed header every binary index file starts with: an 8-byte magic naming the file's role, the format
/// version, where the payload starts and how long it is, and a checksum of the payload. Readers check all of
/// it before trusting a byte, so a truncated, corrupted or foreign file fails with an error naming it.
/// Layout (little-endian): magic[8], version u32, header bytes u32, payload offset u64, payload length u64,
/// payload checksum u64, header checksum u64 (over the preceding 40 bytes).
/// </summary>
public readonly record struct IndexFileHeader(string Magic, int Version, long PayloadOffset, long PayloadLength, ulong PayloadChecksum)
{
    public const int Size = 48;

    public void WriteTo(Span<byte> destination)
    {
        if (Magic.Length != 8) throw new ArgumentException("magic must be 8 ASCII characters", nameof(Magic));
        destination[..Size].Clear();
        Encoding.ASCII.GetBytes(Magic, destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)Version);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Size);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], PayloadOffset);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], PayloadLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], PayloadChecksum);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], Checksum64.Of(destination[..40]));
    }

    /// <summary>
    /// Parses and checks a header: magic, supported version range, header checksum, and that the payload fits
    /// in a file of <paramref name="fileLength"/> bytes. Errors are <see cref="DataFormatException"/>s naming the file.
    /// </summary>
    public static IndexFileHeader Read(string path, ReadOnlySpan<byte> source, long fileLength, string expectedMagic,
        int oldestVersion, int currentVersion)
    {
        if (fileLength < Size || source.Length < Size)
            throw new DataFormatException(path, $"file is {fileLength} bytes, shorter than its {Size}-byte header (truncated?)", byteOffset: 0);
        var magic = Encoding.ASCII.GetString(source[..8]);
        if (magic != expectedMagic)
            throw new DataFormatException(path, $"expected magic '{expectedMagic}', found '{Printable(magic)}' (not this kind of file)",
                byteOffset: 0, kind: ErrorKind.Incompatible);
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(source[40..]);
        if (stored != Checksum64.Of(source[..40]))
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
        return new IndexFileHeader(magic, version, offset, length, BinaryPrimitives.ReadUInt64LittleEndian(source[32..]));
    }

    private static string Printable(string s)
    {
        var chars = s.ToCharArray();
        for (int i = 0; i < chars.Length; i++) if (chars[i] < 32 || chars[i] > 126) chars[i] = '?';
        return new string(chars);
    }
}
