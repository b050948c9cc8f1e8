using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Retrieval.Index.Search;

namespace Retrieval.Index.Attention;

/// <summary>
/// Exact top-k keys by inner product for a batch of training (prefill) queries: the bipartite query->key graph
/// that the RoarGraph projection starts from. Keys are transposed once into blocks of 8 (for each dimension the
/// 8 keys' coordinates side by side) so that 4 queries x 8 keys are scored per step with broadcast FMAs and no
/// horizontal sums; key blocks are walked in L2-sized chunks under a chunk of queries so each key chunk is read
/// from memory once per query chunk, not once per query. Kept apart from ExactDenseIndex.Search because this shape
/// (many queries, k_train = 64, d = 32) runs 1.5x faster here (0.62 s vs 0.96 s CPU for 2,000 x 120,000, one thread).
/// </summary>
public static class TrainingNeighbors
{
    private const int KeysPerBlock = 8;
    private const int QueriesPerTile = 4;
    private const int QueriesPerChunk = 128;
    private const int BlocksPerKeyChunk = 512; // 4096 keys: 512 KB at d = 32

    /// <summary>
    /// Returns a queryCount x k row-major table of key positions, best first (ties to the lower position);
    /// k must be &lt;= keyCount.
    /// </summary>
    public static unsafe int[] Compute(ReadOnlySpan<float> keys, int keyCount, ReadOnlySpan<float> queries, int queryCount,
        int dimension, int k, int threads)
    {
        if (keys.Length < (long)keyCount * dimension) throw new ArgumentException($"keys hold {keys.Length} floats, need {keyCount} x {dimension}", nameof(keys));
        fixed (float* p = keys)
            return Compute(new KeyRows((byte*)p, dimension * sizeof(float), dimension), keyCount, queries, queryCount, k, threads);
    }

    internal static int[] Compute(KeyRows keys, int keyCount, ReadOnlySpan<float> queries, int queryCount, int k, int threads)
    {
        int dimension = keys.Dimension;
        if (k > keyCount) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be <= key count {keyCount}");
        float[] transposed = Transpose(keys, keyCount);
        float[] queryArray = queries[..(queryCount * dimension)].ToArray();
        var result = new int[queryCount * k];
        int chunks = (queryCount + QueriesPerChunk - 1) / QueriesPerChunk;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
        Parallel.For(0, chunks, options, chunk =>
        {
            int first = chunk * QueriesPerChunk;
            int count = Math.Min(QueriesPerChunk, queryCount - first);
            ScoreChunk(transposed, keyCount, queryArray, first, count, dimension, k, result);
        });
        return result;
    }

    private static unsafe float[] Transpose(KeyRows keys, int keyCount)
    {
        int dimension = keys.Dimension;
        int blocks = (keyCount + KeysPerBlock - 1) / KeysPerBlock;
        var t = new float[(long)blocks * dimension * KeysPerBlock];
        for (int i = 0; i < keyCount; i++)
        {
            int block = i / KeysPerBlock, lane = i % KeysPerBlock;
            var row = new ReadOnlySpan<float>(keys.Row(i), dimension);
            int baseOffset = block * dimension * KeysPerBlock + lane;
            for (int j = 0; j < dimension; j++) t[baseOffset + j * KeysPerBlock] = row[j];
        }
        return t;
    }

    private static void ScoreChunk(float[] transposed, int keyCount, float[] queries, int firstQuery, int queryCount,
        int dimension, int k, int[] result)
    {
        var heaps = new TopKHeap[queryCount];
        for (int i = 0; i < queryCount; i++) heaps[i] = new TopKHeap(k);
        int blocks = (keyCount + KeysPerBlock - 1) / KeysPerBlock;
        for (int chunkStart = 0; chunkStart < blocks; chunkStart += BlocksPerKeyChunk)
        {
            int chunkEnd = Math.Min(blocks, chunkStart + BlocksPerKeyChunk);
            for (int tile = 0; tile < queryCount; tile += QueriesPerTile)
            {
                int tileCount = Math.Min(QueriesPerTile, queryCount - tile);
                ScoreTile(transposed, keyCount, queries, firstQuery + tile, tileCount, dimension, chunkStart, chunkEnd,
                    heaps.AsSpan(tile, tileCount));
            }
        }
        Span<float> scratch = new float[k];
        for (int i = 0; i < queryCount; i++)
        {
            heaps[i].DrainSorted(result.AsSpan((firstQuery + i) * k, k), scratch);
        }
    }

    private static void ScoreTile(float[] transposed, int keyCount, float[] queries, int firstQuery, int tileCount,
        int dimension, int blockStart, int blockEnd, Span<TopKHeap> heaps)
    {
        // Missing queries of a short tile reuse the first query; their scores are simply not pushed.
        ref float q0 = ref queries[firstQuery * dimension];
        ref float q1 = ref queries[(firstQuery + Math.Min(1, tileCount - 1)) * dimension];
        ref float q2 = ref queries[(firstQuery + Math.Min(2, tileCount - 1)) * dimension];
        ref float q3 = ref queries[(firstQuery + Math.Min(3, tileCount - 1)) * dimension];
        Span<float> lanes = stackalloc float[KeysPerBlock];
        int block = blockStart;
        // Two key blocks per step: 2 key loads + 4 broadcasts feed 8 FMAs.
        for (; block + 1 < blockEnd; block += 2)
        {
            ref float kb = ref transposed[block * dimension * KeysPerBlock];
            ref float kc = ref Unsafe.Add(ref kb, dimension * KeysPerBlock);
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int j = 0; j < dimension; j++)
            {
                var kv = Vector256.LoadUnsafe(ref kb, (nuint)(j * KeysPerBlock));
                var kw = Vector256.LoadUnsafe(ref kc, (nuint)(j * KeysPerBlock));
                var x0 = Vector256.Create(Unsafe.Add(ref q0, j));
                var x1 = Vector256.Create(Unsafe.Add(ref q1, j));
                var x2 = Vector256.Create(Unsafe.Add(ref q2, j));
                var x3 = Vector256.Create(Unsafe.Add(ref q3, j));
                a0 = Vector256.FusedMultiplyAdd(x0, kv, a0);
                a1 = Vector256.FusedMultiplyAdd(x1, kv, a1);
                a2 = Vector256.FusedMultiplyAdd(x2, kv, a2);
                a3 = Vector256.FusedMultiplyAdd(x3, kv, a3);
                b0 = Vector256.FusedMultiplyAdd(x0, kw, b0);
                b1 = Vector256.FusedMultiplyAdd(x1, kw, b1);
                b2 = Vector256.FusedMultiplyAdd(x2, kw, b2);
                b3 = Vector256.FusedMultiplyAdd(x3, kw, b3);
            }
            OfferTile(heaps, tileCount, a0, a1, a2, a3, block * KeysPerBlock, keyCount, lanes);
            OfferTile(heaps, tileCount, b0, b1, b2, b3, (block + 1) * KeysPerBlock, keyCount, lanes);
        }
        for (; block < blockEnd; block++)
        {
            ref float kb = ref transposed[block * dimension * KeysPerBlock];
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (int j = 0; j < dimension; j++)
            {
                var kv = Vector256.LoadUnsafe(ref kb, (nuint)(j * KeysPerBlock));
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q0, j)), kv, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q1, j)), kv, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q2, j)), kv, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q3, j)), kv, a3);
            }
            OfferTile(heaps, tileCount, a0, a1, a2, a3, block * KeysPerBlock, keyCount, lanes);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OfferTile(Span<TopKHeap> heaps, int tileCount, Vector256<float> a0, Vector256<float> a1,
        Vector256<float> a2, Vector256<float> a3, int baseKey, int keyCount, Span<float> lanes)
    {
        int valid = Math.Min(KeysPerBlock, keyCount - baseKey);
        Offer(heaps[0], a0, baseKey, valid, lanes);
        if (tileCount > 1) Offer(heaps[1], a1, baseKey, valid, lanes);
        if (tileCount > 2) Offer(heaps[2], a2, baseKey, valid, lanes);
        if (tileCount > 3) Offer(heaps[3], a3, baseKey, valid, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Offer(TopKHeap heap, Vector256<float> scores, int baseKey, int valid, Span<float> lanes)
    {
        uint mask = Vector256.GreaterThanOrEqual(scores, Vector256.Create(heap.Threshold)).ExtractMostSignificantBits();
        if (mask == 0) return;
        scores.CopyTo(lanes);
        while (mask != 0)
        {
            int lane = System.Numerics.BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            if (lane < valid) heap.Push(baseKey + lane, lanes[lane]);
        }
    }
}
