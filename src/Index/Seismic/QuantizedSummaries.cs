using System.Runtime.CompilerServices;
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
internal abstract class QuantizedSummaries
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
