using System.Buffers.Binary;
using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Query.Engine;

/// <summary>segment.json: what a persisted segment directory holds. Written last, so a directory without it is unfinished.</summary>
internal sealed record SegmentManifest(string Format, int Version, int Rows, bool Attached, string? Dense, string? Sparse)
{
    public const string FormatName = "retrieval-segment";
    public const int CurrentVersion = 1;
    public const string FileName = "segment.json";
}

/// <summary>
/// A segment directory under data/segments/&lt;collection id&gt;/&lt;sequence&gt;: segment.json, rows.bin (each row's
/// key and the checksum of the record bytes it was built from), records.bin for attached segments (each row's
/// record bytes, vectors left out: they live in the index), and the index directories (dense/, sparse/).
/// <para>A directory is a cache, never the source of truth: on open a row counts as live only when the record
/// store holds exactly the record it was built from, and anything unreadable is rebuilt from the store. Only an
/// attached segment's files are needed for recovery (its vectors exist nowhere else).</para>
/// </summary>
internal static class SegmentFiles
{
    public const string RowsFile = "rows.bin", RecordsFile = "records.bin";
    private const string RowsMagic = "SEGROWS1", RecordsMagic = "SEGRECS1";
    /// <summary>Version of rows.bin and records.bin: 2 is the checksummed section framing (CRC-32C); 1, the retired header framing, still reads.</summary>
    private const int FileVersion = 2, LastLegacyFileVersion = 1;

    public static string CollectionDirectory(string root, uint collectionId) => Path.Combine(root, collectionId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static string SegmentDirectory(string root, uint collectionId, int sequence) =>
        Path.Combine(CollectionDirectory(root, collectionId), sequence.ToString("D8", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Sequences of the segment directories of one collection, ascending (unfinished ones included).</summary>
    public static List<int> Sequences(string root, uint collectionId)
    {
        var list = new List<int>();
        var dir = CollectionDirectory(root, collectionId);
        if (!Directory.Exists(dir)) return list;
        foreach (var sub in Directory.EnumerateDirectories(dir))
            if (int.TryParse(Path.GetFileName(sub), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int seq)) list.Add(seq);
        list.Sort();
        return list;
    }

    public static void WriteRows(string directory, ReadOnlySpan<RecordKey> keys, ReadOnlySpan<ulong> hashes) =>
        SmallIndexFile.Write(Path.Combine(directory, RowsFile), RowsMagic, FileVersion, EncodeRows(keys, hashes));

    /// <summary>Row count, then each row's key and record hash: rows.bin's payload, also an in-place-updated SPANN index's user data.</summary>
    public static byte[] EncodeRows(ReadOnlySpan<RecordKey> keys, ReadOnlySpan<ulong> hashes)
    {
        long length = 4;
        foreach (var k in keys) length += k.EncodedLength + 8;
        var payload = new byte[length];
        BinaryPrimitives.WriteInt32LittleEndian(payload, keys.Length);
        int at = 4;
        for (int i = 0; i < keys.Length; i++)
        {
            at += keys[i].Write(payload.AsSpan(at));
            BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(at), hashes[i]);
            at += 8;
        }
        return payload;
    }

    public static (RecordKey[] Keys, ulong[] Hashes) ReadRows(string directory, int expectedRows)
    {
        var path = Path.Combine(directory, RowsFile);
        var payload = SmallIndexFile.Read(path, RowsMagic, 1, FileVersion, LastLegacyFileVersion).Payload;
        var rows = DecodeRows(payload, path);
        if (rows.Keys.Length != expectedRows) throw new DataFormatException(path, $"{rows.Keys.Length} rows, segment.json says {expectedRows}");
        return rows;
    }

    /// <summary>Decodes <see cref="EncodeRows"/>'s payload; errors name <paramref name="path"/>.</summary>
    public static (RecordKey[] Keys, ulong[] Hashes) DecodeRows(ReadOnlySpan<byte> payload, string path)
    {
        if (payload.Length < 4) throw new DataFormatException(path, "no row count");
        int count = BinaryPrimitives.ReadInt32LittleEndian(payload);
        if (count < 0 || count > payload.Length / 11) throw new DataFormatException(path, $"row count {count} does not fit {payload.Length} bytes");
        var keys = new RecordKey[count];
        var hashes = new ulong[count];
        int at = 4;
        for (int i = 0; i < count; i++)
        {
            keys[i] = RecordKey.Read(payload[at..], out int used);
            at += used;
            if (payload.Length - at < 8) throw new DataFormatException(path, "truncated", row: i);
            hashes[i] = BinaryPrimitives.ReadUInt64LittleEndian(payload[at..]);
            at += 8;
        }
        return (keys, hashes);
    }

    public static void WriteRecords(string directory, IReadOnlyList<byte[]> records)
    {
        long length = 4;
        foreach (var r in records) length += 4 + r.Length;
        if (length > int.MaxValue) Guard.ThrowInvalid($"attached records take {length} bytes, more than one records file holds (2 GiB)");
        var payload = new byte[length];
        BinaryPrimitives.WriteInt32LittleEndian(payload, records.Count);
        int at = 4;
        foreach (var r in records)
        {
            BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(at), r.Length);
            r.CopyTo(payload.AsSpan(at + 4));
            at += 4 + r.Length;
        }
        SmallIndexFile.Write(Path.Combine(directory, RecordsFile), RecordsMagic, FileVersion, payload);
    }

    public static byte[][] ReadRecords(string directory, int expectedRows)
    {
        var path = Path.Combine(directory, RecordsFile);
        var payload = SmallIndexFile.Read(path, RecordsMagic, 1, FileVersion, LastLegacyFileVersion).Payload;
        int count = payload.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(payload) : -1;
        if (count != expectedRows) throw new DataFormatException(path, $"{count} records, segment.json says {expectedRows}");
        var records = new byte[count][];
        int at = 4;
        for (int i = 0; i < count; i++)
        {
            if (payload.Length - at < 4) throw new DataFormatException(path, "truncated", row: i);
            int n = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(at));
            if (n < 0 || n > payload.Length - at - 4) throw new DataFormatException(path, "record length runs past the file", row: i);
            records[i] = payload.AsSpan(at + 4, n).ToArray();
            at += 4 + n;
        }
        return records;
    }

    public static void WriteManifest(string directory, SegmentManifest manifest)
    {
        AtomicFile.WriteAllBytes(Path.Combine(directory, SegmentManifest.FileName), JsonSerializer.SerializeToUtf8Bytes(manifest, SchemaJson.Options));
    }

    /// <summary>The manifest, or null when the directory is unfinished (no segment.json).</summary>
    public static SegmentManifest? ReadManifest(string directory)
    {
        var path = Path.Combine(directory, SegmentManifest.FileName);
        if (!File.Exists(path)) return null;
        SegmentManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<SegmentManifest>(File.ReadAllBytes(path), SchemaJson.Options); }
        catch (JsonException e) { throw new DataFormatException(path, $"not a segment manifest ({e.Message})"); }
        if (manifest is null || manifest.Format != SegmentManifest.FormatName || manifest.Version > SegmentManifest.CurrentVersion || manifest.Rows < 0)
            throw new DataFormatException(path, "not a readable segment manifest", kind: ErrorKind.Incompatible);
        return manifest;
    }

    /// <summary>Deletes a directory tree if it exists; a failure leaves it for a later cleanup.</summary>
    public static void TryDeleteDirectory(string directory)
    {
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
