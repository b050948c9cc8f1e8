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
/// With the code sums C_b = sum q_i code_bi and weight sums W_b = sum q_i over the query terms present in block b's
/// summary, the summary score is min_b x W_b + scale_b x C_b: per entry two adds, the dequantisation deferred to one
/// multiply-add per block.
/// </remarks>
public sealed class QuantizedSummaries
{
    internal QuantizedSummaries(float[] blockMin, float[] blockScale, int[] termComponentStart, int[] componentTerms,
        int[] componentEntryStart, ushort[] entryBlocks, byte[] entryCodes)
    {
        BlockMin = blockMin;
        BlockScale = blockScale;
        TermComponentStart = termComponentStart;
        ComponentTerms = componentTerms;
        ComponentEntryStart = componentEntryStart;
        EntryBlocks = entryBlocks;
        EntryCodes = entryCodes;
    }

    /// <summary>Per block (global block index): the dequantisation offset and step.</summary>
    public float[] BlockMin { get; }
    public float[] BlockScale { get; }
    /// <summary>Term t's summary components are ComponentTerms[TermComponentStart[t] .. TermComponentStart[t+1]), ascending.</summary>
    public int[] TermComponentStart { get; }
    public int[] ComponentTerms { get; }
    /// <summary>Component c's entries are [ComponentEntryStart[c], ComponentEntryStart[c+1]) of EntryBlocks / EntryCodes.</summary>
    public int[] ComponentEntryStart { get; }
    /// <summary>Block index local to the term's list (add TermBlockStart[t] for the global index).</summary>
    public ushort[] EntryBlocks { get; }
    public byte[] EntryCodes { get; }

    public long EntryCount => EntryCodes.LongLength;

    public long SizeInBytes =>
        (BlockMin.LongLength + BlockScale.LongLength) * sizeof(float)
        + (TermComponentStart.LongLength + ComponentTerms.LongLength + ComponentEntryStart.LongLength) * sizeof(int)
        + EntryBlocks.LongLength * sizeof(ushort) + EntryCodes.LongLength;

    /// <summary>The dequantised summary value of a stored code.</summary>
    public float Dequantize(int globalBlock, byte code) => BlockMin[globalBlock] + BlockScale[globalBlock] * code;

    /// <summary>
    /// Scores the summaries of all <paramref name="blockCount"/> blocks of <paramref name="term"/>'s list against the
    /// query (ascending term ids and their weights), writing one score per block into <paramref name="scores"/>.
    /// <paramref name="weightSums"/> is caller scratch of at least blockCount floats. Returns the entries read.
    /// </summary>
    internal int ScoreList(int term, int firstBlock, int blockCount, ReadOnlySpan<int> queryTerms, ReadOnlySpan<float> queryWeights,
        Span<float> scores, Span<float> weightSums)
    {
        scores = scores[..blockCount];
        weightSums = weightSums[..blockCount];
        scores.Clear();
        weightSums.Clear();
        int lo = TermComponentStart[term], hi = TermComponentStart[term + 1];
        ref float codeSum = ref MemoryMarshal.GetReference(scores);
        ref float weightSum = ref MemoryMarshal.GetReference(weightSums);
        ref ushort blocks = ref MemoryMarshal.GetArrayDataReference(EntryBlocks);
        ref byte codes = ref MemoryMarshal.GetArrayDataReference(EntryCodes);
        int entriesRead = 0;
        for (int qi = 0; qi < queryTerms.Length && lo < hi; qi++)
        {
            int component = LowerBound(ComponentTerms, lo, hi, queryTerms[qi]);
            lo = component;
            if (component == hi || ComponentTerms[component] != queryTerms[qi]) continue;
            lo = component + 1;
            float wq = queryWeights[qi];
            int start = ComponentEntryStart[component], end = ComponentEntryStart[component + 1];
            entriesRead += end - start;
            for (int e = start; e < end; e++)
            {
                int b = Unsafe.Add(ref blocks, e);
                Unsafe.Add(ref codeSum, b) += wq * Unsafe.Add(ref codes, e);
                Unsafe.Add(ref weightSum, b) += wq;
            }
        }
        for (int b = 0; b < blockCount; b++)
            scores[b] = BlockMin[firstBlock + b] * weightSums[b] + BlockScale[firstBlock + b] * scores[b];
        return entriesRead;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LowerBound(int[] sorted, int lo, int hi, int value)
    {
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (sorted[mid] < value) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
