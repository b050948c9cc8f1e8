using System.Buffers.Binary;
using System.Runtime.InteropServices;
using K4os.Compression.LZ4;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>A record in the form the engine stores and logs: vectors already computed from any text.</summary>
/// <param name="TextTokens">Tokens counted by the sparse text encoder (document length for BM25), 0 without text.</param>
internal sealed record RecordData(RecordKey Key, float[]? Dense, SparseTerms? Sparse, int TextTokens, byte[]? Payload);

/// <summary>
/// Binary record layout shared by the write-ahead log and the record store: version byte, key, flags, text token
/// count, dense floats, sparse ids+weights, payload (LZ4 block-compressed when at least the threshold and smaller
/// that way). Little-endian throughout; every length is checked on read so a damaged record fails as Corrupt.
/// </summary>
internal static class RecordCodec
{
    private const byte Version = 1;
    private const byte HasDense = 1, HasSparse = 2, HasPayload = 4, PayloadLz4 = 8;

    public static byte[] Encode(RecordData record, int compressThresholdBytes)
    {
        byte[]? stored = null;
        bool lz4 = false;
        if (record.Payload is { } payload && payload.Length >= compressThresholdBytes)
        {
            var buffer = new byte[LZ4Codec.MaximumOutputSize(payload.Length)];
            int n = LZ4Codec.Encode(payload, buffer, LZ4Level.L00_FAST);
            if (n > 0 && n < payload.Length)
            {
                stored = buffer[..n];
                lz4 = true;
            }
        }
        stored ??= record.Payload;

        int length = 1 + record.Key.EncodedLength + 1 + 4;
        if (record.Dense is not null) length += 4 + record.Dense.Length * 4;
        if (record.Sparse is not null) length += 4 + record.Sparse.Count * 8;
        if (stored is not null) length += 8 + stored.Length;
        var bytes = new byte[length];
        var span = bytes.AsSpan();
        span[0] = Version;
        int at = 1 + record.Key.Write(span[1..]);
        byte flags = 0;
        if (record.Dense is not null) flags |= HasDense;
        if (record.Sparse is not null) flags |= HasSparse;
        if (stored is not null) flags |= HasPayload;
        if (lz4) flags |= PayloadLz4;
        span[at++] = flags;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], record.TextTokens);
        at += 4;
        if (record.Dense is { } dense)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], dense.Length);
            at += 4;
            MemoryMarshal.AsBytes(dense.AsSpan()).CopyTo(span[at..]);
            at += dense.Length * 4;
        }
        if (record.Sparse is { } sparse)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], sparse.Count);
            at += 4;
            MemoryMarshal.AsBytes(sparse.Indices.AsSpan()).CopyTo(span[at..]);
            at += sparse.Count * 4;
            MemoryMarshal.AsBytes(sparse.Values.AsSpan()).CopyTo(span[at..]);
            at += sparse.Count * 4;
        }
        if (stored is not null)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], record.Payload!.Length);
            BinaryPrimitives.WriteInt32LittleEndian(span[(at + 4)..], stored.Length);
            at += 8;
            stored.CopyTo(span[at..]);
            at += stored.Length;
        }
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the record layout assumes a little-endian machine");
        return bytes;
    }

    /// <summary>Decodes one record; <paramref name="withPayload"/> = false skips decompressing the payload.</summary>
    public static RecordData Decode(ReadOnlySpan<byte> bytes, bool withPayload = true) => Decode(bytes, withPayload, out _);

    /// <param name="withDense">False skips copying the dense vector (recovery learns rows first and reads vectors only for rows no index serves).</param>
    public static RecordData Decode(ReadOnlySpan<byte> bytes, bool withPayload, out int consumed, bool withDense = true)
    {
        if (bytes.Length < 1 || bytes[0] != Version)
            throw Corrupt($"record format version {(bytes.Length > 0 ? bytes[0] : -1)} is not {Version}");
        var key = RecordKey.Read(bytes[1..], out int keyLength);
        int at = 1 + keyLength;
        Need(bytes, at, 5);
        byte flags = bytes[at++];
        int textTokens = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
        at += 4;
        float[]? dense = null;
        if ((flags & HasDense) != 0)
        {
            int d = ReadCount(bytes, ref at, 4);
            if (withDense) dense = MemoryMarshal.Cast<byte, float>(bytes.Slice(at, d * 4)).ToArray();
            at += d * 4;
        }
        SparseTerms? sparse = null;
        if ((flags & HasSparse) != 0)
        {
            int n = ReadCount(bytes, ref at, 8);
            var ids = MemoryMarshal.Cast<byte, int>(bytes.Slice(at, n * 4)).ToArray();
            var values = MemoryMarshal.Cast<byte, float>(bytes.Slice(at + n * 4, n * 4)).ToArray();
            at += n * 8;
            sparse = new SparseTerms(ids, values);
        }
        byte[]? payload = null;
        if ((flags & HasPayload) != 0)
        {
            Need(bytes, at, 8);
            int rawLength = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
            int storedLength = BinaryPrimitives.ReadInt32LittleEndian(bytes[(at + 4)..]);
            at += 8;
            if (rawLength < 0 || storedLength < 0) throw Corrupt("negative payload length");
            Need(bytes, at, storedLength);
            if (withPayload)
            {
                var stored = bytes.Slice(at, storedLength);
                if ((flags & PayloadLz4) != 0)
                {
                    payload = new byte[rawLength];
                    if (LZ4Codec.Decode(stored, payload) != rawLength) throw Corrupt("LZ4 payload does not decode to its recorded length");
                }
                else payload = stored.ToArray();
            }
            at += storedLength;
        }
        consumed = at;
        return new RecordData(key, dense, sparse, textTokens, payload);
    }

    private static int ReadCount(ReadOnlySpan<byte> bytes, ref int at, int bytesPerItem)
    {
        Need(bytes, at, 4);
        int n = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
        at += 4;
        if (n < 0 || (long)n * bytesPerItem > bytes.Length - at) throw Corrupt($"record claims {n} entries past its end");
        return n;
    }

    private static void Need(ReadOnlySpan<byte> bytes, int at, int count)
    {
        if (count < 0 || at + (long)count > bytes.Length) throw Corrupt("record is truncated");
    }

    private static RetrievalException Corrupt(string problem) => new(ErrorKind.Corrupt, "stored record: " + problem);
}
