using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retrieval.Index.Seismic;

/// <summary>
/// A short query prepared for scoring 16-bit-term forward rows without gathers (AVX-512): each query term broadcast
/// to 32 lanes of u16, and a 32-entry weight table (entry 0 = 0, entry j+1 = query weight j) that one two-table
/// permute turns into per-lane weights. A row's terms are compared against every query term, each match writing the
/// term's table index into its lane; the gathered weights then multiply the row's values. With the ~10 terms of an
/// IDF query bag that replaces four 8-wide gathers into a 122 KB dense query (L2 hits, one gather per 8 entries) by
/// about two dozen register operations per 32 entries. Per-thread scratch, refilled per query.
/// <para>Comparing a row against every query term costs one compare, mask move and merge per query term per 32 row
/// terms, so a 10-term query spends most of a row's time there. When the query's terms hash without collision into
/// 64 slots under h(t) = (t x Mul mod 2^16) >> 10 (Mul an odd multiplier found at Set; a 10-term query needs about two
/// tries), a row's 32 terms are matched at once instead: hash them, fetch each slot's term and table index with a
/// two-table permute, and keep the index where the fetched term equals the row term. Empty slots hold a term that does
/// not hash there, so no row term can match one.</para>
/// </summary>
internal sealed class QueryLanes
{
    /// <summary>Most query terms the table holds (index 0 is "no match").</summary>
    public const int MaxTerms = 31;

    /// <summary>2^112: the exponent-bias gap between float16 and float32, folded into the weights (see ForwardIndex).</summary>
    public static readonly float HalfScale = BitConverter.Int32BitsToSingle((127 + 112) << 23);

    private readonly Vector512<ushort>[] _termBroadcasts = new Vector512<ushort>[MaxTerms];
    private readonly Vector512<ushort>[] _indexBroadcasts = new Vector512<ushort>[MaxTerms];

    public QueryLanes()
    {
        for (int j = 0; j < MaxTerms; j++) _indexBroadcasts[j] = Vector512.Create((ushort)(j + 1));
    }

    public static bool IsSupported => Avx512BW.IsSupported && Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>Query terms held (0 when the query does not fit: then the dense-array path scores it).</summary>
    public int Count { get; private set; }
    public Vector512<float> TableLow { get; private set; }
    public Vector512<float> TableHigh { get; private set; }
    /// <summary>As the tables, with every weight scaled by <see cref="HalfScale"/> for float16 rows.</summary>
    public Vector512<float> HalfTableLow { get; private set; }
    public Vector512<float> HalfTableHigh { get; private set; }
    public Vector512<ushort>[] TermBroadcasts => _termBroadcasts;

    /// <summary>Slots of the query-term hash (a power of two the two-table word permute covers).</summary>
    public const int HashSlots = 64;
    public const int HashShift = 16 - 6;
    /// <summary>Multipliers tried before giving up on the hash (then rows are compared term by term).</summary>
    private const int HashAttempts = 64;

    /// <summary>True when the query terms hash without collision (then <see cref="HashMultiplier"/> and the slot tables are set).</summary>
    public bool Hashed { get; private set; }
    public ushort HashMultiplier { get; private set; }
    /// <summary>Per slot, the query term it holds (or a term that does not hash to it), low and high 32 slots.</summary>
    public Vector512<ushort> SlotTermsLow { get; private set; }
    public Vector512<ushort> SlotTermsHigh { get; private set; }
    /// <summary>Per slot, the table index of its query term (0 for an empty slot).</summary>
    public Vector512<ushort> SlotIndexLow { get; private set; }
    public Vector512<ushort> SlotIndexHigh { get; private set; }

    /// <summary>The hash slot of term <paramref name="term"/> under <paramref name="multiplier"/>.</summary>
    public static int Slot(int term, ushort multiplier) => (ushort)(term * multiplier) >> HashShift;
    public Vector512<ushort>[] IndexBroadcasts => _indexBroadcasts;

    /// <summary>
    /// Prepares the query; false (and Count 0) when it has more than <see cref="MaxTerms"/> terms, a term id above
    /// 65,535 or a weight too large to carry the float16 scale.
    /// </summary>
    public bool Set(ReadOnlySpan<int> terms, ReadOnlySpan<float> weights, bool allowHash = true)
    {
        Count = 0;
        Hashed = false;
        if (!IsSupported || terms.Length > MaxTerms) return false;
        Span<float> table = stackalloc float[2 * 16];
        Span<float> halfTable = stackalloc float[2 * 16];
        table.Clear();
        halfTable.Clear();
        for (int j = 0; j < terms.Length; j++)
        {
            if ((uint)terms[j] > ushort.MaxValue) return false;
            _termBroadcasts[j] = Vector512.Create((ushort)terms[j]);
            table[j + 1] = weights[j];
            halfTable[j + 1] = weights[j] * HalfScale;
            // A weight above ~1.5e4 would overflow once scaled; such (unusual) queries take the dense path.
            if (!float.IsFinite(halfTable[j + 1])) return false;
        }
        TableLow = Vector512.Create<float>(table[..16]);
        TableHigh = Vector512.Create<float>(table[16..]);
        HalfTableLow = Vector512.Create<float>(halfTable[..16]);
        HalfTableHigh = Vector512.Create<float>(halfTable[16..]);
        Count = terms.Length;
        Hashed = allowHash && TryHash(terms);
        return true;
    }

    /// <summary>Searches a fixed sequence of odd multipliers for one that puts every query term in its own slot.</summary>
    private bool TryHash(ReadOnlySpan<int> terms)
    {
        Span<ushort> slotTerms = stackalloc ushort[HashSlots];
        Span<ushort> slotIndex = stackalloc ushort[HashSlots];
        uint state = 0x9E3779B9;
        for (int attempt = 0; attempt < HashAttempts; attempt++)
        {
            state = state * 1664525 + 1013904223;
            ushort multiplier = (ushort)((state >> 16) | 1);
            slotIndex.Clear();
            bool distinct = true;
            for (int j = 0; j < terms.Length && distinct; j++)
            {
                int slot = Slot(terms[j], multiplier);
                if (slotIndex[slot] != 0) distinct = false;
                slotTerms[slot] = (ushort)terms[j];
                slotIndex[slot] = (ushort)(j + 1);
            }
            if (!distinct) continue;
            for (int slot = 0; slot < HashSlots; slot++)
            {
                if (slotIndex[slot] != 0) continue;
                // Any term hashing elsewhere works; consecutive terms step through slots, so a few tries suffice.
                ushort empty = 0;
                while (Slot(empty, multiplier) == slot) empty++;
                slotTerms[slot] = empty;
            }
            HashMultiplier = multiplier;
            SlotTermsLow = Vector512.Create<ushort>(slotTerms[..32]);
            SlotTermsHigh = Vector512.Create<ushort>(slotTerms[32..]);
            SlotIndexLow = Vector512.Create<ushort>(slotIndex[..32]);
            SlotIndexHigh = Vector512.Create<ushort>(slotIndex[32..]);
            return true;
        }
        return false;
    }
}
