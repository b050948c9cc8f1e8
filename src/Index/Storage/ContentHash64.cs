using System.Numerics;
using System.Runtime.InteropServices;

namespace Retrieval.Index.Storage;

/// <summary>
/// A fast 64-bit hash (not cryptographic): four independent multiply-rotate lanes over 32-byte blocks; incremental
/// through <see cref="Append"/>. No longer a file checksum for new files (those use CRC-32C in
/// <see cref="ChecksummedBinaryFile"/>): it verifies files in the legacy framing (<see cref="LegacyIndexFileHeader"/>)
/// and serves the engine as a record-content identity hash.
/// </summary>
public struct ContentHash64
{
    private const ulong Prime1 = 0x9E3779B185EBCA87UL;
    private const ulong Prime2 = 0xC2B2AE3D27D4EB4FUL;

    private ulong _a, _b, _c, _d;
    private long _length;
    private int _pendingCount;
    private Block _pending;

    [System.Runtime.CompilerServices.InlineArray(32)]
    private struct Block
    {
        private byte _e;
    }

    public static ContentHash64 Create() => new() { _a = Prime1, _b = Prime2, _c = 0x165667B19E3779F9UL, _d = 0x27D4EB2F165667C5UL };

    public static ulong Of(ReadOnlySpan<byte> data)
    {
        var sum = Create();
        sum.Append(data);
        return sum.Finish();
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        _length += data.Length;
        Span<byte> pending = _pending;
        if (_pendingCount > 0)
        {
            int take = Math.Min(32 - _pendingCount, data.Length);
            data[..take].CopyTo(pending[_pendingCount..]);
            _pendingCount += take;
            data = data[take..];
            if (_pendingCount < 32) return;
            Mix(pending);
            _pendingCount = 0;
        }
        int whole = data.Length & ~31;
        if (whole > 0) Mix(data[..whole]);
        data[whole..].CopyTo(pending);
        _pendingCount = data.Length - whole;
    }

    public readonly ulong Finish()
    {
        ulong h = BitOperations.RotateLeft(_a, 1) + BitOperations.RotateLeft(_b, 7) +
                  BitOperations.RotateLeft(_c, 12) + BitOperations.RotateLeft(_d, 18);
        ReadOnlySpan<byte> pending = _pending;
        for (int i = 0; i < _pendingCount; i++) h = (h ^ pending[i]) * Prime1;
        h ^= (ulong)_length;
        h ^= h >> 33;
        h *= Prime2;
        h ^= h >> 29;
        return h;
    }

    private void Mix(ReadOnlySpan<byte> blocks)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(blocks);
        ulong a = _a, b = _b, c = _c, d = _d;
        for (int i = 0; i < words.Length; i += 4)
        {
            a = BitOperations.RotateLeft(a + words[i] * Prime2, 31) * Prime1;
            b = BitOperations.RotateLeft(b + words[i + 1] * Prime2, 31) * Prime1;
            c = BitOperations.RotateLeft(c + words[i + 2] * Prime2, 31) * Prime1;
            d = BitOperations.RotateLeft(d + words[i + 3] * Prime2, 31) * Prime1;
        }
        _a = a; _b = b; _c = c; _d = d;
    }
}
