using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Retrieval.Index.Search;

namespace Retrieval.Index.Attention;

/// <summary>
/// Exact top-k keys by inner product for a batch of training (prefill) queries: the bipartite query->key graph
/// that the RoarGraph projection starts from. Keys are transposed once into blocks of 8 (for each dimension the
/// 8 keys' coordinates side by side) so that 6 queries x 16 keys are scored per step with broadcast FMAs and no
/// horizontal sums; key blocks are walked in half-L2-sized chunks under a chunk of queries so each key chunk is read
/// from memory once per query chunk, not once per query. Kept apart from ExactDenseIndex.Search because this shape
/// (many queries, k_train = 64, small d) is markedly faster with this 6 x 16 tile than with the general tile; a
/// 4 x 16 tile lost much of the gain because the JIT spilled its accumulators (figures in docs/BENCHMARKS.md).
/// </summary>
internal static class TrainingNeighbors
{
    private const int KeysPerBlock = 8;
    private const int QueriesPerChunk = 132; // 22 tiles of 6
    private const int BlocksPerKeyChunk = 256; // 2048 keys: 256 KB at d = 32, half of L2

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
        blocks += blocks & 1; // an even count: the wide tile walks blocks in pairs (padding keys are never offered)
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
        blocks += blocks & 1;
        unsafe
        {
            fixed (float* t = transposed)
            fixed (float* q = &queries[firstQuery * dimension])
            {
                for (int chunkStart = 0; chunkStart < blocks; chunkStart += BlocksPerKeyChunk)
                    ScoreWideChunk(t, keyCount, q, queryCount, dimension, chunkStart, Math.Min(blocks, chunkStart + BlocksPerKeyChunk), heaps);
            }
        }
        Span<float> scratch = new float[k];
        for (int i = 0; i < queryCount; i++)
        {
            heaps[i].DrainSorted(result.AsSpan((firstQuery + i) * k, k), scratch);
        }
    }

    private const int WideTile = 6;

    /// <summary>
    /// The 6 x 16 register tile (12 accumulators, AVX2's 16 registers): per coordinate 2 key loads and 6 query
    /// broadcasts feed 12 FMAs, half again as many per key byte read from L2 as a 4 x 16 tile. A tile's 16 scores
    /// per query are compared with that query's heap threshold (kept in a register-friendly local, refreshed only
    /// after a push) in one max + compare, so most key blocks cost no branch per lane.
    /// </summary>
    private static unsafe void ScoreWideChunk(float* transposed, int keyCount, float* queries, int queryCount,
        int dimension, int blockStart, int blockEnd, TopKHeap[] heaps)
    {
        float* thresholds = stackalloc float[WideTile];
        float* sums = stackalloc float[2 * KeysPerBlock * WideTile];
        for (int tile = 0; tile < queryCount; tile += WideTile)
        {
            int tileCount = Math.Min(WideTile, queryCount - tile);
            float* q0 = queries + tile * dimension;
            // Missing queries of a short tile repeat the tile's first query; their scores are not offered.
            float* q1 = q0 + (tileCount > 1 ? dimension : 0);
            float* q2 = q0 + (tileCount > 2 ? 2 * dimension : 0);
            float* q3 = q0 + (tileCount > 3 ? 3 * dimension : 0);
            float* q4 = q0 + (tileCount > 4 ? 4 * dimension : 0);
            float* q5 = q0 + (tileCount > 5 ? 5 * dimension : 0);
            for (int t = 0; t < WideTile; t++)
                thresholds[t] = t < tileCount ? heaps[tile + t].Threshold : float.PositiveInfinity;
            for (int block = blockStart; block < blockEnd; block += 2)
            {
                float* kb = transposed + (nint)block * dimension * KeysPerBlock;
                float* kc = kb + dimension * KeysPerBlock;
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
                Vector256<float> b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
                for (int j = 0; j < dimension; j++)
                {
                    var kv = Vector256.Load(kb + j * KeysPerBlock);
                    var kw = Vector256.Load(kc + j * KeysPerBlock);
                    var x = Vector256.Create(q0[j]);
                    a0 = Vector256.FusedMultiplyAdd(x, kv, a0);
                    b0 = Vector256.FusedMultiplyAdd(x, kw, b0);
                    x = Vector256.Create(q1[j]);
                    a1 = Vector256.FusedMultiplyAdd(x, kv, a1);
                    b1 = Vector256.FusedMultiplyAdd(x, kw, b1);
                    x = Vector256.Create(q2[j]);
                    a2 = Vector256.FusedMultiplyAdd(x, kv, a2);
                    b2 = Vector256.FusedMultiplyAdd(x, kw, b2);
                    x = Vector256.Create(q3[j]);
                    a3 = Vector256.FusedMultiplyAdd(x, kv, a3);
                    b3 = Vector256.FusedMultiplyAdd(x, kw, b3);
                    x = Vector256.Create(q4[j]);
                    a4 = Vector256.FusedMultiplyAdd(x, kv, a4);
                    b4 = Vector256.FusedMultiplyAdd(x, kw, b4);
                    x = Vector256.Create(q5[j]);
                    a5 = Vector256.FusedMultiplyAdd(x, kv, a5);
                    b5 = Vector256.FusedMultiplyAdd(x, kw, b5);
                }
                // Park the accumulators before offering: live across the heap's calls they would be spilled at
                // every FMA inside the loop (no callee-saved vector registers on SysV), halving the kernel's speed.
                a0.Store(sums); b0.Store(sums + 8); a1.Store(sums + 16); b1.Store(sums + 24);
                a2.Store(sums + 32); b2.Store(sums + 40); a3.Store(sums + 48); b3.Store(sums + 56);
                a4.Store(sums + 64); b4.Store(sums + 72); a5.Store(sums + 80); b5.Store(sums + 88);
                int baseKey = block * KeysPerBlock;
                for (int t = 0; t < tileCount; t++)
                    OfferPair(heaps[tile + t], thresholds + t, sums + 16 * t, baseKey, keyCount);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void OfferPair(TopKHeap heap, float* threshold, float* lanes, int baseKey, int keyCount)
    {
        var limit = Vector256.Create(*threshold);
        var a = Vector256.Load(lanes);
        var b = Vector256.Load(lanes + KeysPerBlock);
        if (!Vector256.GreaterThanOrEqualAny(Vector256.Max(a, b), limit)) return;
        uint mask = Vector256.GreaterThanOrEqual(a, limit).ExtractMostSignificantBits()
            | (Vector256.GreaterThanOrEqual(b, limit).ExtractMostSignificantBits() << KeysPerBlock);
        while (mask != 0)
        {
            int lane = System.Numerics.BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            int key = baseKey + lane;
            if (key < keyCount && lanes[lane] >= *threshold)
            {
                heap.Push(key, lanes[lane]);
                *threshold = heap.Threshold;
            }
        }
    }
}
