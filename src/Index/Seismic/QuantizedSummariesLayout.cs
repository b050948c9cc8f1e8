using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Retrieval.Index.Seismic;

/// <summary>
/// One summary layout: component term ids <typeparamref name="TTerm"/> (ushort or int), list-relative entry offsets
/// <typeparamref name="TOffset"/> (ushort or int) and entry block ids <typeparamref name="TBlock"/> (byte or ushort), the
/// narrowest that fit (see <see cref="QuantizedSummaries"/>). The lookup and scoring loops are compiled once per layout.
/// </summary>
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

/// <summary>One summary entry: the list-local block and the quantized value, packed (2 or 3 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct SummaryEntry<TBlock> where TBlock : unmanaged
{
    public TBlock Block;
    public byte Code;
}
