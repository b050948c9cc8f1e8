using System.Buffers.Binary;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Storage;

/// <summary>What <see cref="SmallIndexFile.Read"/> found: the payload, the file's format version and its checksum.</summary>
/// <param name="Checksum">CRC-32C from the footer; for a file in the legacy framing, its <see cref="ContentHash64"/> payload checksum.</param>
public sealed record SmallIndexFileContents(byte[] Payload, int Version, ulong Checksum);

/// <summary>
/// A binary index file small enough to read whole (SPANN's heads, graph and posting directory; a segment's rows and
/// records): one byte section in the <see cref="ChecksummedBinaryFile"/> framing, written atomically through
/// <see cref="AtomicFile"/> and verified completely on read.
/// </summary>
public static class SmallIndexFile
{
    /// <summary>Writes the file; returns its CRC-32C (as recorded in a manifest).</summary>
    public static uint Write(string path, string magic, int version, ReadOnlySpan<byte> payload)
    {
        using var writer = new ChecksummedBinaryFile.Writer(path, magic, (uint)version, sections: 1);
        writer.Section(payload);
        uint checksum = writer.Checksum;
        writer.Commit();
        return checksum;
    }

    /// <summary>
    /// Reads and verifies the file; versions <paramref name="oldestVersion"/>..<paramref name="currentVersion"/> are
    /// accepted, and a file whose version is at most <paramref name="lastLegacyVersion"/> is read in the retired
    /// header framing (<see cref="LegacyIndexFileHeader"/>); 0 when the file kind never had one.
    /// </summary>
    public static SmallIndexFileContents Read(string path, string magic, int oldestVersion, int currentVersion, int lastLegacyVersion = 0)
    {
        if (!File.Exists(path)) throw new RetrievalException(ErrorKind.NotFound, $"index file missing: {path}");
        if (lastLegacyVersion >= oldestVersion && IsLegacy(path, lastLegacyVersion))
        {
            var bytes = File.ReadAllBytes(path);
            var header = LegacyIndexFileHeader.Read(path, bytes, bytes.Length, magic, oldestVersion, lastLegacyVersion);
            var payload = bytes.AsSpan((int)header.PayloadOffset, (int)header.PayloadLength);
            if (ContentHash64.Of(payload) != header.PayloadChecksum)
                throw new DataFormatException(path, "payload checksum mismatch (the file is corrupt)", byteOffset: header.PayloadOffset);
            return new SmallIndexFileContents(payload.ToArray(), header.Version, header.PayloadChecksum);
        }
        var reader = new ChecksummedBinaryFile.Reader(path, magic, (uint)currentVersion, (uint)Math.Max(oldestVersion, lastLegacyVersion + 1),
            expectedLength: null, expectedChecksum: null);
        var data = reader.Section<byte>("payload");
        reader.ExpectEnd();
        return new SmallIndexFileContents(data, (int)reader.Version, reader.Checksum);
    }

    /// <summary>
    /// True when the version field (bytes 8..11 in both framings) names a version of the retired header framing.
    /// A corrupt version field is caught by whichever framing it leads to (header checksum or CRC-32C).
    /// </summary>
    internal static bool IsLegacy(string path, int lastLegacyVersion)
    {
        Span<byte> head = stackalloc byte[12];
        using var handle = File.OpenHandle(path);
        int n = RandomAccess.Read(handle, head, 0);
        return n == head.Length && BinaryPrimitives.ReadUInt32LittleEndian(head[8..]) <= (uint)lastLegacyVersion;
    }
}
