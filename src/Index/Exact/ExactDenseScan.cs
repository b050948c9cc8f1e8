using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Exact;

/// <summary>
/// The two scan loops of exact dense search, generic over the score (metric), the accumulator and the stored
/// element decoder, so each combination is one monomorphic loop:
/// <list type="bullet">
/// <item><see cref="ScanOne"/>: one query against stored rows decoded on the fly, four rows at a time
/// (memory-bound: every base byte is read once per query).</item>
/// <item><see cref="ScanBlocked"/>: a tile of queries against base blocks decoded once into float32 scratch
/// (compute-bound: every base byte read from memory serves the whole tile).</item>
/// </list>
/// Both feed per-query <see cref="TopKHeap"/>s with the threshold test before the push.
/// </summary>
internal static class ExactDenseScan<TScore, TAccumulator, TDecoder, TElement>
    where TScore : struct, IExactDenseScore
    where TAccumulator : struct, IDistanceAccumulator
    where TDecoder : struct, IElementDecoder<TElement>
    where TElement : unmanaged
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a scan is long-running: skip tier-0, no first-query penalty
    public static void ScanOne(ReadOnlySpan<TElement> baseRows, int rowCount, int dimension, ReadOnlySpan<float> rowInverseNorms,
        ReadOnlySpan<float> query, TopKHeap heap, Span<float> scoreScratch)
    {
        ref TElement rows = ref MemoryMarshal.GetReference(baseRows);
        ref float norms = ref MemoryMarshal.GetReference(rowInverseNorms);
        ref float q = ref MemoryMarshal.GetReference(query);
        ref float scores = ref MemoryMarshal.GetReference(scoreScratch);
        int chunk = scoreScratch.Length;
        float threshold = heap.Threshold;
        for (int start = 0; start < rowCount; start += chunk)
        {
            int n = Math.Min(chunk, rowCount - start);
            RowKernel.ScoreRows<TAccumulator, TDecoder, TElement>(ref q, ref Unsafe.Add(ref rows, (nint)start * dimension), n, dimension, ref scores);
            for (int r = 0; r < n; r++)
            {
                float g = TScore.Goodness(Unsafe.Add(ref scores, r), ref norms, start + r);
                if (g >= threshold)
                {
                    heap.Push(start + r, g);
                    threshold = heap.Threshold;
                }
            }
        }
    }

    /// <summary>
    /// Scores queries [tileStart, tileStart + tileCount) of the decoded, padded query matrix against base rows
    /// [rowStart, rowEnd), pushing into heaps[0..tileCount).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScanBlocked(ReadOnlySpan<TElement> baseRows, int dimension, ReadOnlySpan<float> rowInverseNorms,
        float[] decodedQueries, int stride, int tileStart, int tileCount, int rowStart, int rowEnd,
        BlockedScratch scratch, TopKHeap[] heaps)
    {
        ref TElement rows = ref MemoryMarshal.GetReference(baseRows);
        ref float norms = ref MemoryMarshal.GetReference(rowInverseNorms);
        ref float queryTile = ref decodedQueries[(long)tileStart * stride];
        int paddedQueries = TileKernel.PaddedCount(tileCount);
        int blockRows = scratch.BlockRows;
        ref float block = ref MemoryMarshal.GetArrayDataReference(scratch.Block);
        ref float scores = ref MemoryMarshal.GetArrayDataReference(scratch.Scores);
        for (int start = rowStart; start < rowEnd; start += blockRows)
        {
            int n = Math.Min(blockRows, rowEnd - start);
            int paddedRows = TileKernel.PaddedCount(n);
            RowDecoder.DecodeRows<TDecoder, TElement>(ref Unsafe.Add(ref rows, (nint)start * dimension), n, dimension, ref block, stride);
            if (paddedRows > n) scratch.Block.AsSpan(n * stride, (paddedRows - n) * stride).Clear();
            TileKernel.ScoreTile<TAccumulator>(ref queryTile, paddedQueries, ref block, paddedRows, stride, ref scores, blockRows);
            for (int q = 0; q < tileCount; q++)
            {
                TopKHeap heap = heaps[q];
                float threshold = heap.Threshold;
                ref float s = ref Unsafe.Add(ref scores, q * blockRows);
                for (int r = 0; r < n; r++)
                {
                    float g = TScore.Goodness(Unsafe.Add(ref s, r), ref norms, start + r);
                    if (g >= threshold)
                    {
                        heap.Push(start + r, g);
                        threshold = heap.Threshold;
                    }
                }
            }
        }
    }
}

/// <summary>Per-worker scratch of the blocked scan: one decoded base block, its score tile and the tile's heaps.</summary>
internal sealed class BlockedScratch
{
    public BlockedScratch(int queryTile, int blockRows, int stride, int k)
    {
        BlockRows = blockRows;
        Block = new float[blockRows * stride];
        Scores = new float[TileKernel.PaddedCount(queryTile) * blockRows];
        Heaps = new TopKHeap[queryTile];
        for (int i = 0; i < Heaps.Length; i++) Heaps[i] = new TopKHeap(k);
    }

    public int BlockRows { get; }
    public float[] Block { get; }
    public float[] Scores { get; }
    public TopKHeap[] Heaps { get; }
}
