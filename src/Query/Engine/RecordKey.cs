using System.Buffers.Binary;
using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>A record's key: a 64-bit integer or a string, as the collection's <see cref="KeyKind"/> says.</summary>
public readonly struct RecordKey : IEquatable<RecordKey>
{
    public const int MaxStringBytes = 512;

    private readonly long _integer;
    private readonly string? _string;

    private RecordKey(long integer, string? text)
    {
        _integer = integer;
        _string = text;
    }

    public static RecordKey Of(long id) => new(id, null);

    public static RecordKey Of(string id)
    {
        if (string.IsNullOrEmpty(id)) Guard.ThrowInvalid("id is empty");
        if (Encoding.UTF8.GetByteCount(id) > MaxStringBytes) Guard.ThrowInvalid($"id is longer than {MaxStringBytes} UTF-8 bytes");
        return new(0, id);
    }

    public KeyKind Kind => _string is null ? KeyKind.Integer : KeyKind.String;
    public long Integer => _string is null ? _integer : throw new InvalidOperationException("string key");
    public string String => _string ?? throw new InvalidOperationException("integer key");

    public bool Equals(RecordKey other) => _integer == other._integer && string.Equals(_string, other._string, StringComparison.Ordinal);
    public override bool Equals(object? obj) => obj is RecordKey other && Equals(other);
    public override int GetHashCode() => _string is null ? _integer.GetHashCode() : StringComparer.Ordinal.GetHashCode(_string);
    public override string ToString() => _string ?? _integer.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Throws InvalidInput when this key's kind is not the collection's.</summary>
    internal void Check(KeyKind expected, string collection)
    {
        if (Kind != expected)
            Guard.ThrowInvalid($"id '{this}' is a {Kind.ToString().ToLowerInvariant()} key, collection '{collection}' uses {expected.ToString().ToLowerInvariant()} keys");
    }

    /// <summary>Encoded form: kind byte, then 8 little-endian bytes or a u16 length and UTF-8 bytes.</summary>
    internal int EncodedLength => _string is null ? 9 : 3 + Encoding.UTF8.GetByteCount(_string);

    internal int Write(Span<byte> destination)
    {
        if (_string is null)
        {
            destination[0] = 0;
            BinaryPrimitives.WriteInt64LittleEndian(destination[1..], _integer);
            return 9;
        }
        destination[0] = 1;
        int n = Encoding.UTF8.GetBytes(_string, destination[3..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[1..], (ushort)n);
        return 3 + n;
    }

    internal static RecordKey Read(ReadOnlySpan<byte> source, out int consumed)
    {
        if (source.Length < 1) throw Truncated();
        if (source[0] == 0)
        {
            if (source.Length < 9) throw Truncated();
            consumed = 9;
            return new(BinaryPrimitives.ReadInt64LittleEndian(source[1..]), null);
        }
        if (source[0] != 1 || source.Length < 3) throw Truncated();
        int n = BinaryPrimitives.ReadUInt16LittleEndian(source[1..]);
        if (source.Length < 3 + n) throw Truncated();
        consumed = 3 + n;
        return new(0, Encoding.UTF8.GetString(source.Slice(3, n)));
    }

    private static RetrievalException Truncated() => new(ErrorKind.Corrupt, "stored record key is truncated or has an unknown kind");
}
