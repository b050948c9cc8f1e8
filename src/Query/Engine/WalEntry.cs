using System.Buffers.Binary;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

internal enum WalOp : byte
{
    CreateCollection = 1,
    DropCollection = 2,
    Upsert = 3,
    Delete = 4,
    /// <summary>A segment directory (written and flushed before this entry) joins the collection; body: its sequence.</summary>
    Attach = 5,
}

/// <summary>
/// One write-ahead log entry: an op byte, the collection's incarnation id (ids are never reused, so records of a
/// dropped collection can be recognised and discarded) and the op's body: schema JSON, encoded records, or keys.
/// One entry is applied whole or not at all.
/// </summary>
internal readonly struct WalEntry
{
    public WalOp Op { get; init; }
    public uint CollectionId { get; init; }
    public byte[]? Schema { get; init; }
    /// <summary>Each record's <see cref="RecordCodec"/> bytes (what the record store holds).</summary>
    public List<byte[]>? Records { get; init; }
    public List<RecordKey>? Keys { get; init; }
    /// <summary>The attached segment's directory sequence (Attach only).</summary>
    public int Sequence { get; init; }

    public byte[] Encode()
    {
        int length = 5;
        switch (Op)
        {
            case WalOp.CreateCollection: length += Schema!.Length; break;
            case WalOp.Upsert: length += 4; foreach (var r in Records!) length += 4 + r.Length; break;
            case WalOp.Delete: length += 4; foreach (var k in Keys!) length += k.EncodedLength; break;
            case WalOp.Attach: length += 4; break;
        }
        var bytes = new byte[length];
        var span = bytes.AsSpan();
        span[0] = (byte)Op;
        BinaryPrimitives.WriteUInt32LittleEndian(span[1..], CollectionId);
        int at = 5;
        switch (Op)
        {
            case WalOp.CreateCollection:
                Schema!.CopyTo(span[at..]);
                break;
            case WalOp.Upsert:
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], Records!.Count);
                at += 4;
                foreach (var r in Records)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(span[at..], r.Length);
                    r.CopyTo(span[(at + 4)..]);
                    at += 4 + r.Length;
                }
                break;
            case WalOp.Delete:
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], Keys!.Count);
                at += 4;
                foreach (var k in Keys) at += k.Write(span[at..]);
                break;
            case WalOp.Attach:
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], Sequence);
                break;
        }
        return bytes;
    }

    public static WalEntry Decode(ReadOnlySpan<byte> bytes, long address)
    {
        if (bytes.Length < 5) throw Corrupt(address, $"entry of {bytes.Length} bytes is shorter than its header");
        var op = (WalOp)bytes[0];
        uint id = BinaryPrimitives.ReadUInt32LittleEndian(bytes[1..]);
        var body = bytes[5..];
        try
        {
            switch (op)
            {
                case WalOp.CreateCollection:
                    return new WalEntry { Op = op, CollectionId = id, Schema = body.ToArray() };
                case WalOp.DropCollection:
                    return new WalEntry { Op = op, CollectionId = id };
                case WalOp.Upsert:
                    {
                        int count = ReadCount(body, address);
                        var records = new List<byte[]>(count);
                        int at = 4;
                        for (int i = 0; i < count; i++)
                        {
                            if (body.Length - at < 4) throw Corrupt(address, "upsert entry is truncated");
                            int n = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
                            if (n < 0 || n > body.Length - at - 4) throw Corrupt(address, "upsert record length runs past the entry");
                            records.Add(body.Slice(at + 4, n).ToArray());
                            at += 4 + n;
                        }
                        return new WalEntry { Op = op, CollectionId = id, Records = records };
                    }
                case WalOp.Delete:
                    {
                        int count = ReadCount(body, address);
                        var keys = new List<RecordKey>(count);
                        int at = 4;
                        for (int i = 0; i < count; i++)
                        {
                            keys.Add(RecordKey.Read(body[at..], out int used));
                            at += used;
                        }
                        return new WalEntry { Op = op, CollectionId = id, Keys = keys };
                    }
                case WalOp.Attach:
                    {
                        if (body.Length < 4) throw Corrupt(address, "attach entry has no segment sequence");
                        int sequence = BinaryPrimitives.ReadInt32LittleEndian(body);
                        if (sequence < 0) throw Corrupt(address, $"attach entry names segment {sequence}");
                        return new WalEntry { Op = op, CollectionId = id, Sequence = sequence };
                    }
                default:
                    throw Corrupt(address, $"unknown op {(byte)op}");
            }
        }
        catch (RetrievalException e) when (e.Kind == ErrorKind.Corrupt && !e.Message.StartsWith("write-ahead log", StringComparison.Ordinal))
        {
            throw Corrupt(address, e.Message);
        }
    }

    private static int ReadCount(ReadOnlySpan<byte> body, long address)
    {
        if (body.Length < 4) throw Corrupt(address, "entry has no count");
        int count = BinaryPrimitives.ReadInt32LittleEndian(body);
        if (count < 0 || count > body.Length) throw Corrupt(address, $"entry claims {count} items");
        return count;
    }

    private static RetrievalException Corrupt(long address, string problem) =>
        new(ErrorKind.Corrupt, $"write-ahead log entry at address {address}: {problem}");
}
