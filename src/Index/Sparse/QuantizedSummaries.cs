using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Retrieval.Index.Sparse;

/// <summary>
/// Block summaries: for each block, the coordinate-wise max of its documents pruned to alpha of its L1 mass, with every
/// kept value quantized to a byte as min + scale x code (min and scale per block). The summaries of one term's list
/// are stored component-major (a small inverted index over the list's blocks): for each component term of the list,
/// the (local block index, code) pairs of the blocks whose summary holds it. Scoring all of a list's summaries
/// against a query is then one pass over the query's terms, touching only the summary entries the query can hit.
/// </summary>
/// <remarks>
/// <para>With the code sums C_b = sum q_i code_bi and weight sums W_b = sum q_i over the query terms present in block
/// b's summary, the summary score is min_b x W_b + scale_b x C_b: per entry two adds, the dequantisation deferred to
/// one multiply-add per block.</para>
/// <para>Widths are the narrowest that fit (format version 2): component term ids are u16 when the vocabulary has at
/// most 65,536 terms; a component's first entry is stored relative to its list's first entry, as u16 when every list
/// has at most 65,536 entries; an entry's block is u8 when no list has more than 256 blocks. With about 2.3 entries
/// per (list, component) on BM25 passages, that halves the per-component cost (8 -> 4 bytes) and cuts an entry from
/// 3 to 2 bytes. Lists of a single block carry no summary entries: a search scores such a block directly, since one
/// block can only be skipped, never ordered, and a short list's documents cost about what its summary would.</para>
/// </remarks>
public abstract class QuantizedSummaries
{
    private protected QuantizedSummaries(float[] blockMin, float[] blockScale, int[] termComponentStart, int[] termEntryStart,
        byte[] entryCodes)
    {
        BlockMin = blockMin;
        BlockScale = blockScale;
        TermComponentStart = termComponentStart;
        TermEntryStart = termEntryStart;
        EntryCodes = entryCodes;
    }

    /// <summary>Per block (global block index): the dequantisation offset and step.</summary>
    public float[] BlockMin { get; }
    public float[] BlockScale { get; }
    /// <summary>Term t's summary components are components [TermComponentStart[t], TermComponentStart[t+1]), ascending term ids.</summary>
    public int[] TermComponentStart { get; }
    /// <summary>Term t's summary entries are [TermEntryStart[t], TermEntryStart[t+1]) of the entry arrays.</summary>
    public int[] TermEntryStart { get; }
    public byte[] EntryCodes { get; }

    public long EntryCount => EntryCodes.LongLength;
    public int ComponentCount => TermComponentStart[^1];

    /// <summary>Bytes per component term id (2 or 4), per relative entry offset (2 or 4) and per entry block id (1 or 2).</summary>
    public abstract (int TermBytes, int OffsetBytes, int BlockBytes) Widths { get; }

    public long SizeInBytes
    {
        get
        {
            var (termBytes, offsetBytes, blockBytes) = Widths;
            return (BlockMin.LongLength + BlockScale.LongLength) * sizeof(float)
                + (TermComponentStart.LongLength + TermEntryStart.LongLength) * sizeof(int)
                + (long)ComponentCount * (termBytes + offsetBytes) + EntryCount * (blockBytes + 1);
        }
    }

    /// <summary>The dequantised summary value of a stored code.</summary>
    public float Dequantize(int globalBlock, byte code) => BlockMin[globalBlock] + BlockScale[globalBlock] * code;

    /// <summary>The term id of summary component <paramref name="component"/> (a global component index).</summary>
    public abstract int ComponentTerm(int component);

    /// <summary>Entries [Start, End) of component <paramref name="component"/> of <paramref name="term"/>'s list.</summary>
    public abstract (int Start, int End) ComponentEntries(int term, int component);

    /// <summary>The list-local block index of entry <paramref name="entry"/>.</summary>
    public abstract int EntryBlock(int entry);

    /// <summary>
    /// Scores the summaries of all <paramref name="blockCount"/> blocks of <paramref name="term"/>'s list against the
    /// query (ascending term ids and their weights), writing one score per block into <paramref name="scores"/>.
    /// <paramref name="weightSums"/> is caller scratch of at least blockCount floats. Returns the entries read.
    /// </summary>
    internal abstract int ScoreList(int term, int firstBlock, int blockCount, ReadOnlySpan<int> queryTerms, ReadOnlySpan<float> queryWeights,
        Span<float> scores, Span<float> weightSums);

    /// <summary>The width-dependent arrays for serialisation: component terms, relative entry offsets, entry blocks.</summary>
    internal abstract (Array Terms, Array Offsets, Array Blocks) RawArrays { get; }

    internal static QuantizedSummaries Create(float[] blockMin, float[] blockScale, int[] termComponentStart, int[] termEntryStart,
        Array componentTerms, Array entryOffsets, Array entryBlocks, byte[] entryCodes) => (componentTerms, entryOffsets, entryBlocks) switch
    {
        (ushort[] t, ushort[] o, byte[] b) => new QuantizedSummaries<ushort, ushort, byte>(blockMin, blockScale, termComponentStart, termEntryStart, t, o, b, entryCodes),
        (ushort[] t, ushort[] o, ushort[] b) => new QuantizedSummaries<ushort, ushort, ushort>(blockMin, blockScale, termComponentStart, termEntryStart, t, o, b, entryCodes),
        (ushort[] t, int[] o, byte[] b) => new QuantizedSummaries<ushort, int, byte>(blockMin, blockScale, termComponentStart, termEntryStart, t, o, b, entryCodes),
        (ushort[] t, int[] o, ushort[] b) => new QuantizedSummaries<ushort, int, ushort>(blockMin, blockScale, termComponentStart, termEntryStart, t, o, b, entryCodes),
        (int[] t, ushort[] o, byte[] b) => new QuantizedSummaries<int, ushort, byte>(blockMin, blockScale, termComponentStart, termEntryStart, t, o, b, entryCodes),
        (int[] t, ushort[] o, ushort[] b) => new QuantizedSummaries<int, ushort, ushort>(blockMin, blockScale, termComponentStart, termEntryStart, t, o, b, entryCodes),
        (int[] t, int[] o, byte[] b) => new QuantizedSummaries<int, int, byte>(blockMin, blockScale, termComponentStart, termEntryStart, t, o, b, entryCodes),
        (int[] t, int[] o, ushort[] b) => new QuantizedSummaries<int, int, ushort>(blockMin, blockScale, termComponentStart, termEntryStart, t, o, b, entryCodes),
        _ => throw new ArgumentException(
            $"unsupported summary layout {componentTerms.GetType().Name}/{entryOffsets.GetType().Name}/{entryBlocks.GetType().Name}"),
    };

    /// <summary>Reads element i of a u8, u16 or i32 array as an int (the typeof tests fold away per instantiation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static int Load<T>(ref T data, nint i) where T : unmanaged =>
        typeof(T) == typeof(byte) ? Unsafe.As<T, byte>(ref Unsafe.Add(ref data, i))
        : typeof(T) == typeof(ushort) ? Unsafe.As<T, ushort>(ref Unsafe.Add(ref data, i))
        : Unsafe.As<T, int>(ref Unsafe.Add(ref data, i));
}

internal sealed class QuantizedSummaries<TTerm, TOffset, TBlock> : QuantizedSummaries
    where TTerm : unmanaged
    where TOffset : unmanaged
    where TBlock : unmanaged
{
    private readonly TTerm[] _componentTerms;
    private readonly TOffset[] _entryOffsets;
    private readonly TBlock[] _entryBlocks;

    public QuantizedSummaries(float[] blockMin, float[] blockScale, int[] termComponentStart, int[] termEntryStart,
        TTerm[] componentTerms, TOffset[] entryOffsets, TBlock[] entryBlocks, byte[] entryCodes)
        : base(blockMin, blockScale, termComponentStart, termEntryStart, entryCodes)
    {
        _componentTerms = componentTerms;
        _entryOffsets = entryOffsets;
        _entryBlocks = entryBlocks;
    }

    public override (int TermBytes, int OffsetBytes, int BlockBytes) Widths =>
        (Unsafe.SizeOf<TTerm>(), Unsafe.SizeOf<TOffset>(), Unsafe.SizeOf<TBlock>());

    internal override (Array Terms, Array Offsets, Array Blocks) RawArrays => (_componentTerms, _entryOffsets, _entryBlocks);

    public override int ComponentTerm(int component) => Load(ref MemoryMarshal.GetArrayDataReference(_componentTerms), component);

    public override (int Start, int End) ComponentEntries(int term, int component)
    {
        int first = TermEntryStart[term];
        int start = first + Load(ref MemoryMarshal.GetArrayDataReference(_entryOffsets), component);
        int end = component + 1 < TermComponentStart[term + 1]
            ? first + Load(ref MemoryMarshal.GetArrayDataReference(_entryOffsets), component + 1)
            : TermEntryStart[term + 1];
        return (start, end);
    }

    public override int EntryBlock(int entry) => Load(ref MemoryMarshal.GetArrayDataReference(_entryBlocks), entry);

    internal override int ScoreList(int term, int firstBlock, int blockCount, ReadOnlySpan<int> queryTerms, ReadOnlySpan<float> queryWeights,
        Span<float> scores, Span<float> weightSums)
    {
        scores = scores[..blockCount];
        weightSums = weightSums[..blockCount];
        scores.Clear();
        weightSums.Clear();
        int lo = TermComponentStart[term], hi = TermComponentStart[term + 1];
        int entryBase = TermEntryStart[term], entryLimit = TermEntryStart[term + 1] - entryBase;
        ref float codeSum = ref MemoryMarshal.GetReference(scores);
        ref float weightSum = ref MemoryMarshal.GetReference(weightSums);
        ref TTerm componentTerms = ref MemoryMarshal.GetArrayDataReference(_componentTerms);
        ref TOffset offsets = ref MemoryMarshal.GetArrayDataReference(_entryOffsets);
        ref TBlock blocks = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_entryBlocks), entryBase);
        ref byte codes = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(EntryCodes), entryBase);
        int entriesRead = 0;
        for (int qi = 0; qi < queryTerms.Length && lo < hi; qi++)
        {
            int wanted = queryTerms[qi];
            // Lower bound of the query term among the list's remaining components (query terms ascend, so lo only grows).
            int left = lo, right = hi;
            while (left < right)
            {
                int mid = (int)((uint)(left + right) >> 1);
                if (Load(ref componentTerms, mid) < wanted) left = mid + 1;
                else right = mid;
            }
            lo = left;
            if (left == hi || Load(ref componentTerms, left) != wanted) continue;
            lo = left + 1;
            float wq = queryWeights[qi];
            int start = Load(ref offsets, left);
            int end = left + 1 < hi ? Load(ref offsets, left + 1) : entryLimit;
            entriesRead += end - start;
            for (int e = start; e < end; e++)
            {
                int b = Load(ref blocks, e);
                Unsafe.Add(ref codeSum, b) += wq * Unsafe.Add(ref codes, e);
                Unsafe.Add(ref weightSum, b) += wq;
            }
        }
        var mins = BlockMin.AsSpan(firstBlock, blockCount);
        var scales = BlockScale.AsSpan(firstBlock, blockCount);
        for (int b = 0; b < scores.Length; b++)
            scores[b] = mins[b] * weightSums[b] + scales[b] * scores[b];
        return entriesRead;
    }
}
