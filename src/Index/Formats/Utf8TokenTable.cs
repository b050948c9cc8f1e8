using System.Numerics;
using System.Text;

namespace Retrieval.Index.Formats;

/// <summary>
/// Token -> id lookup straight from UTF-8 bytes, for readers that see tokens as bytes (JSONL, TSV): no
/// transcoding to UTF-16, and all token bytes in one array with an open-addressing table of ids, so a
/// 30,522-token vocabulary fits in about half a MiB of cache instead of 30,522 scattered strings.
/// </summary>
internal sealed class Utf8TokenTable
{
    private readonly byte[] _bytes;
    private readonly int[] _offsets;
    private readonly int[] _slots; // id + 1, 0 = empty
    private readonly int _mask;

    public Utf8TokenTable(IReadOnlyList<string> tokens)
    {
        _offsets = new int[tokens.Count + 1];
        int total = 0;
        for (int i = 0; i < tokens.Count; i++)
        {
            total += Encoding.UTF8.GetByteCount(tokens[i]);
            _offsets[i + 1] = total;
        }
        _bytes = new byte[total];
        for (int i = 0; i < tokens.Count; i++) Encoding.UTF8.GetBytes(tokens[i], _bytes.AsSpan(_offsets[i]));
        int capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, tokens.Count * 2));
        _slots = new int[capacity];
        _mask = capacity - 1;
        for (int id = 0; id < tokens.Count; id++)
        {
            var token = Token(id);
            int slot = (int)Hash(token) & _mask;
            while (true)
            {
                int existing = _slots[slot];
                if (existing == 0)
                {
                    _slots[slot] = id + 1;
                    break;
                }
                // The first occurrence of a repeated token keeps its id, as in BERT's loader.
                if (Token(existing - 1).SequenceEqual(token)) break;
                slot = (slot + 1) & _mask;
            }
        }
    }

    public bool TryGetId(ReadOnlySpan<byte> utf8Token, out int id)
    {
        int slot = (int)Hash(utf8Token) & _mask;
        while (true)
        {
            int entry = _slots[slot];
            if (entry == 0)
            {
                id = -1;
                return false;
            }
            if (Token(entry - 1).SequenceEqual(utf8Token))
            {
                id = entry - 1;
                return true;
            }
            slot = (slot + 1) & _mask;
        }
    }

    private ReadOnlySpan<byte> Token(int id) => _bytes.AsSpan(_offsets[id], _offsets[id + 1] - _offsets[id]);

    /// <summary>FNV-1a with a final avalanche: tokens are a few bytes, so a simple byte loop is fastest.</summary>
    private static uint Hash(ReadOnlySpan<byte> bytes)
    {
        uint h = 2166136261;
        foreach (byte b in bytes) h = (h ^ b) * 16777619;
        h ^= h >> 15;
        h *= 0x2C1B3C6D;
        h ^= h >> 12;
        return h;
    }
}
