using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retrieval.Index.Seismic;

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
/// <para>Lookup: the component ids are cut into segments of one 64-byte line (32 u16 or 16 i32 ids, counted from the
/// array start), and a fence built at load holds the first id of every segment. Finding a query term in a list reads
/// the list's stretch of the fence (a line or two), then one segment, then one entry offset, then the entry run: four
/// dependent cache misses where a binary search over the ids (about 1,800 per list on BM25 passages) is a chain of
/// ten, and few enough lines that a search can prefetch every stage for all its lists at once.</para>
/// </remarks>
public abstract class QuantizedSummaries
{
    private protected QuantizedSummaries(float[] blockMin, float[] blockScale, int[] termComponentStart, int[] termEntryStart,
        long entryCount)
    {
        BlockMin = blockMin;
        BlockScale = blockScale;
        TermComponentStart = termComponentStart;
        TermEntryStart = termEntryStart;
        EntryCount = entryCount;
    }

    /// <summary>Per block (global block index): the dequantisation offset and step.</summary>
    public float[] BlockMin { get; }
    public float[] BlockScale { get; }
    /// <summary>Term t's summary components are components [TermComponentStart[t], TermComponentStart[t+1]), ascending term ids.</summary>
    public int[] TermComponentStart { get; }
    /// <summary>Term t's summary entries are [TermEntryStart[t], TermEntryStart[t+1]) of the entry arrays.</summary>
    public int[] TermEntryStart { get; }
    public long EntryCount { get; }
    public int ComponentCount => TermComponentStart[^1];

    /// <summary>Bytes per component term id (2 or 4), per relative entry offset (2 or 4) and per entry block id (1 or 2).</summary>
    public abstract (int TermBytes, int OffsetBytes, int BlockBytes) Widths { get; }

    /// <summary>Bytes held in memory, the segment fence built at load (1/32 of the component ids; not stored) included.</summary>
    public long SizeInBytes
    {
        get
        {
            var (termBytes, offsetBytes, blockBytes) = Widths;
            int segmentLength = 64 / termBytes;
            return (BlockMin.LongLength + BlockScale.LongLength) * sizeof(float)
                + (TermComponentStart.LongLength + TermEntryStart.LongLength) * sizeof(int)
                + (long)ComponentCount * (termBytes + offsetBytes) + EntryCount * (blockBytes + 1)
                + (long)(ComponentCount + segmentLength - 1) / segmentLength * termBytes;
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

    /// <summary>The quantized summary value (code) of entry <paramref name="entry"/>.</summary>
    public abstract byte EntryCode(int entry);

    /// <summary>
    /// Scores the summaries of all <paramref name="blockCount"/> blocks of <paramref name="term"/>'s list against the
    /// query (ascending term ids and their weights), writing one score per block into <paramref name="scores"/>.
    /// <paramref name="weightSums"/> is caller scratch of at least blockCount floats; <paramref name="runs"/> of at
    /// least queryTerms.Length runs. Returns the entries read. The search runs the same steps
    /// (<see cref="PrefetchFence"/>, <see cref="FindSegments"/>, <see cref="SearchSegments"/>, <see cref="ResolveRuns"/>,
    /// <see cref="AccumulateRuns"/>) spread over the query so that the memory accesses of all its lists overlap.
    /// </summary>
    internal int ScoreList(int term, int firstBlock, int blockCount, ReadOnlySpan<int> queryTerms, ReadOnlySpan<float> queryWeights,
        Span<float> scores, Span<float> weightSums, Span<SummaryRun> runs)
    {
        int segments = FindSegments(term, queryTerms, runs);
        int found = SearchSegments(term, queryTerms, runs[..segments]);
        ResolveRuns(term, runs[..found]);
        return AccumulateRuns(firstBlock, blockCount, runs[..found], queryWeights, scores, weightSums);
    }

    /// <summary>Prefetches the segment fence of <paramref name="term"/>'s list (the first term id of each segment).</summary>
    internal abstract void PrefetchFence(int term);

    /// <summary>
    /// For each query term (ascending) that may be among <paramref name="term"/>'s components, appends a run holding the
    /// query term's index and the one segment of components that can hold it (in <see cref="SummaryRun.Start"/>),
    /// and prefetches that segment. Returns the number of runs.
    /// </summary>
    internal abstract int FindSegments(int term, ReadOnlySpan<int> queryTerms, Span<SummaryRun> runs);

    /// <summary>
    /// Searches each run's segment (from <see cref="FindSegments"/>) for its query term, keeping (compacted, in order)
    /// the runs whose term is present with Start = the component index, and prefetches their entry offsets. Returns
    /// the runs kept.
    /// </summary>
    internal abstract int SearchSegments(int term, ReadOnlySpan<int> queryTerms, Span<SummaryRun> runs);

    /// <summary>Turns located runs into entry ranges [Start, End) and prefetches their block ids and codes.</summary>
    internal abstract void ResolveRuns(int term, Span<SummaryRun> runs);

    /// <summary>
    /// Scores the list's <paramref name="blockCount"/> blocks (global blocks from <paramref name="firstBlock"/>) from
    /// resolved runs into <paramref name="scores"/>; returns the entries read.
    /// </summary>
    internal abstract int AccumulateRuns(int firstBlock, int blockCount, ReadOnlySpan<SummaryRun> runs, ReadOnlySpan<float> queryWeights,
        Span<float> scores, Span<float> weightSums);

    /// <summary>Prefetches the dequantisation parameters of <paramref name="blockCount"/> blocks from <paramref name="firstBlock"/>.</summary>
    internal unsafe void PrefetchBlockParameters(int firstBlock, int blockCount)
    {
        PrefetchLines((byte*)Unsafe.AsPointer(ref BlockMin[firstBlock]), (byte*)Unsafe.AsPointer(ref BlockMin[firstBlock + blockCount - 1]));
        PrefetchLines((byte*)Unsafe.AsPointer(ref BlockScale[firstBlock]), (byte*)Unsafe.AsPointer(ref BlockScale[firstBlock + blockCount - 1]));
    }

    /// <summary>Prefetches the block ids and codes of resolved runs.</summary>
    internal abstract void PrefetchRuns(ReadOnlySpan<SummaryRun> runs);

    /// <summary>Prefetches every cache line from <paramref name="first"/> to <paramref name="last"/> inclusive.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static unsafe void PrefetchLines(byte* first, byte* last)
    {
        // Only a hint: an address from a moved array (none of these are pinned) prefetches something useless, no more.
        if (!Sse.IsSupported) return;
        for (byte* line = (byte*)((nint)first & ~63); line <= last; line += 64) Sse.Prefetch0(line);
    }

    /// <summary>
    /// The arrays as stored on disk: component terms, relative entry offsets (width-dependent), and entry blocks and
    /// codes as two separate arrays (copied out of the interleaved entries: for saving and tests, not for searches).
    /// </summary>
    internal abstract (Array Terms, Array Offsets, Array Blocks, byte[] Codes) RawArrays { get; }

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
    /// <summary>Entries with block id and code side by side: a run of entries is one stream of lines, not two.</summary>
    private readonly SummaryEntry<TBlock>[] _entries;

    public QuantizedSummaries(float[] blockMin, float[] blockScale, int[] termComponentStart, int[] termEntryStart,
        TTerm[] componentTerms, TOffset[] entryOffsets, TBlock[] entryBlocks, byte[] entryCodes)
        : base(blockMin, blockScale, termComponentStart, termEntryStart, entryCodes.LongLength)
    {
        _componentTerms = componentTerms;
        _entryOffsets = entryOffsets;
        if (entryBlocks.Length != entryCodes.Length)
            throw new ArgumentException($"{entryBlocks.Length} entry blocks but {entryCodes.Length} codes");
        _entries = new SummaryEntry<TBlock>[entryCodes.Length];
        for (int e = 0; e < _entries.Length; e++) _entries[e] = new SummaryEntry<TBlock> { Block = entryBlocks[e], Code = entryCodes[e] };
        _fence = new TTerm[(componentTerms.Length + SegmentLength - 1) >> SegmentShift];
        for (int i = 0; i < _fence.Length; i++) _fence[i] = componentTerms[i << SegmentShift];
    }

    /// <summary>The first term id of every segment of <see cref="SegmentLength"/> components (the whole array cut into lines).</summary>
    private readonly TTerm[] _fence;

    public override (int TermBytes, int OffsetBytes, int BlockBytes) Widths =>
        (Unsafe.SizeOf<TTerm>(), Unsafe.SizeOf<TOffset>(), Unsafe.SizeOf<TBlock>());

    internal override (Array Terms, Array Offsets, Array Blocks, byte[] Codes) RawArrays
    {
        get
        {
            var blocks = new TBlock[_entries.Length];
            var codes = new byte[_entries.Length];
            for (int e = 0; e < _entries.Length; e++)
            {
                blocks[e] = _entries[e].Block;
                codes[e] = _entries[e].Code;
            }
            return (_componentTerms, _entryOffsets, blocks, codes);
        }
    }

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

    public override int EntryBlock(int entry) => Load(ref _entries[entry].Block, 0);

    public override byte EntryCode(int entry) => _entries[entry].Code;

    /// <summary>Components per fence segment: one 64-byte line of term ids.</summary>
    private static int SegmentLength => 64 / Unsafe.SizeOf<TTerm>();
    private static int SegmentShift => Unsafe.SizeOf<TTerm>() == 2 ? 5 : 4;

    internal override unsafe void PrefetchFence(int term)
    {
        int lo = TermComponentStart[term], hi = TermComponentStart[term + 1];
        if (lo == hi) return;
        ref TTerm fence = ref MemoryMarshal.GetArrayDataReference(_fence);
        PrefetchLines((byte*)Unsafe.AsPointer(ref Unsafe.Add(ref fence, lo >> SegmentShift)),
            (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref fence, (hi - 1) >> SegmentShift)));
        byte* entryStart = (byte*)Unsafe.AsPointer(ref TermEntryStart[term]);
        PrefetchLines(entryStart, entryStart);
    }

    internal override unsafe int FindSegments(int term, ReadOnlySpan<int> queryTerms, Span<SummaryRun> runs)
    {
        int lo = TermComponentStart[term], hi = TermComponentStart[term + 1];
        if (lo == hi) return 0;
        ref TTerm fence = ref MemoryMarshal.GetArrayDataReference(_fence);
        ref TTerm componentTerms = ref MemoryMarshal.GetArrayDataReference(_componentTerms);
        // The list spans segments firstSegment..lastSegment. The first may begin in the list before this one, so its
        // fence entry may not be this list's: it is never compared, only taken when no later segment starts low enough.
        int firstSegment = lo >> SegmentShift, lastSegment = (hi - 1) >> SegmentShift;
        int found = 0, from = firstSegment + 1;
        for (int qi = 0; qi < queryTerms.Length; qi++)
        {
            int wanted = queryTerms[qi];
            // The last segment in [from, lastSegment] starting at or below the wanted term, else from - 1 (query terms
            // ascend, so the answer only grows): an upper bound over the fence entries.
            int at = from, length = lastSegment - from + 1;
            while (length > 0)
            {
                int half = length >> 1;
                bool below = Load(ref fence, at + half) <= wanted;
                at = below ? at + half + 1 : at;
                length = below ? length - half - 1 : half;
            }
            int segment = at - 1;
            from = Math.Max(from, segment);
            runs[found++] = new SummaryRun { Query = qi, Start = segment };
            int first = Math.Max(lo, segment << SegmentShift), last = Math.Min(hi, (segment + 1) << SegmentShift) - 1;
            PrefetchLines((byte*)Unsafe.AsPointer(ref Unsafe.Add(ref componentTerms, first)),
                (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref componentTerms, last)));
        }
        return found;
    }

    internal override unsafe int SearchSegments(int term, ReadOnlySpan<int> queryTerms, Span<SummaryRun> runs)
    {
        int lo = TermComponentStart[term], hi = TermComponentStart[term + 1];
        ref TTerm componentTerms = ref MemoryMarshal.GetArrayDataReference(_componentTerms);
        ref TOffset offsets = ref MemoryMarshal.GetArrayDataReference(_entryOffsets);
        int kept = 0;
        for (int i = 0; i < runs.Length; i++)
        {
            int segment = runs[i].Start, qi = runs[i].Query, wanted = queryTerms[qi];
            int at = Math.Max(lo, segment << SegmentShift), length = Math.Min(hi, (segment + 1) << SegmentShift) - at;
            while (length > 1)
            {
                int half = length >> 1;
                at = Load(ref componentTerms, at + half - 1) < wanted ? at + half : at;
                length -= half;
            }
            if (Load(ref componentTerms, at) != wanted) continue;
            runs[kept++] = new SummaryRun { Query = qi, Start = at };
            byte* offset = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref offsets, at));
            PrefetchLines(offset, offset);
        }
        return kept;
    }

    internal override unsafe void ResolveRuns(int term, Span<SummaryRun> runs)
    {
        int hi = TermComponentStart[term + 1];
        int entryBase = TermEntryStart[term], entryLimit = TermEntryStart[term + 1];
        ref TOffset offsets = ref MemoryMarshal.GetArrayDataReference(_entryOffsets);
        ref SummaryEntry<TBlock> entries = ref MemoryMarshal.GetArrayDataReference(_entries);
        for (int i = 0; i < runs.Length; i++)
        {
            int component = runs[i].Start;
            int start = entryBase + Load(ref offsets, component);
            int end = component + 1 < hi ? entryBase + Load(ref offsets, component + 1) : entryLimit;
            runs[i].Start = start;
            runs[i].End = end;
            PrefetchLines((byte*)Unsafe.AsPointer(ref Unsafe.Add(ref entries, start)), (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref entries, end - 1)));
        }
    }

    internal override unsafe void PrefetchRuns(ReadOnlySpan<SummaryRun> runs)
    {
        ref SummaryEntry<TBlock> entries = ref MemoryMarshal.GetArrayDataReference(_entries);
        for (int i = 0; i < runs.Length; i++)
        {
            int start = runs[i].Start, end = runs[i].End;
            PrefetchLines((byte*)Unsafe.AsPointer(ref Unsafe.Add(ref entries, start)), (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref entries, end - 1)));
        }
    }

    internal override int AccumulateRuns(int firstBlock, int blockCount, ReadOnlySpan<SummaryRun> runs, ReadOnlySpan<float> queryWeights,
        Span<float> scores, Span<float> weightSums)
    {
        scores = scores[..blockCount];
        weightSums = weightSums[..blockCount];
        scores.Clear();
        weightSums.Clear();
        ref float codeSum = ref MemoryMarshal.GetReference(scores);
        ref float weightSum = ref MemoryMarshal.GetReference(weightSums);
        ref SummaryEntry<TBlock> entries = ref MemoryMarshal.GetArrayDataReference(_entries);
        int entriesRead = 0;
        // Runs are in query-term order, so every block's sums add up in the same order as a term-by-term pass.
        for (int r = 0; r < runs.Length; r++)
        {
            float wq = queryWeights[runs[r].Query];
            int start = runs[r].Start, end = runs[r].End;
            entriesRead += end - start;
            for (int e = start; e < end; e++)
            {
                ref var entry = ref Unsafe.Add(ref entries, e);
                int b = Load(ref entry.Block, 0);
                Unsafe.Add(ref codeSum, b) += wq * entry.Code;
                Unsafe.Add(ref weightSum, b) += wq;
            }
        }
        var mins = BlockMin.AsSpan(firstBlock, blockCount);
        var scales = BlockScale.AsSpan(firstBlock, blockCount);
        int v = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // Multiply and add kept apart (no fused multiply-add), so every lane rounds exactly as the scalar tail does.
            ref float min = ref MemoryMarshal.GetReference(mins);
            ref float scale = ref MemoryMarshal.GetReference(scales);
            for (; v + Vector256<float>.Count <= blockCount; v += Vector256<float>.Count)
            {
                var dequantized = Vector256.Multiply(Vector256.LoadUnsafe(ref min, (nuint)v), Vector256.LoadUnsafe(ref weightSum, (nuint)v))
                    + Vector256.Multiply(Vector256.LoadUnsafe(ref scale, (nuint)v), Vector256.LoadUnsafe(ref codeSum, (nuint)v));
                dequantized.StoreUnsafe(ref codeSum, (nuint)v);
            }
        }
        for (int b = v; b < blockCount; b++)
            scores[b] = mins[b] * weightSums[b] + scales[b] * scores[b];
        return entriesRead;
    }
}

/// <summary>
/// One query term's hits in one list's summaries: the query term's index and, once resolved, its entries
/// [Start, End). Before that, Start holds the candidate segment (<see cref="QuantizedSummaries.FindSegments"/>), then
/// the component index (<see cref="QuantizedSummaries.SearchSegments"/>).
/// </summary>
internal struct SummaryRun
{
    public int Query;
    public int Start;
    public int End;
}

/// <summary>One summary entry: the list-local block and the quantized value, packed (2 or 3 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct SummaryEntry<TBlock> where TBlock : unmanaged
{
    public TBlock Block;
    public byte Code;
}
