using System.Numerics.Tensors;
using Retrieval.Index.Search;

namespace Retrieval.Bench.Benchmarks.Kv;

/// <summary>
/// The key-only IVF peer: k-means (L2, Lloyd) lists over the keys, probed in descending q·centroid order, each
/// probed list scanned exactly. Keys are copied list by list so a probe is one contiguous scan.
/// </summary>
public sealed class KeyIvfIndex
{
    private readonly int _dimension;
    private readonly float[] _centroids;
    private readonly int[] _listOffsets;
    private readonly int[] _listIds;
    private readonly float[] _listKeys;

    public KeyIvfIndex(float[] keys, int count, int dimension, int lists, int iterations, int trainingSample, int seed, int threads)
    {
        _dimension = dimension;
        ListCount = lists;
        var rng = new Random(seed);
        int sample = Math.Min(count, trainingSample);
        var sampleIds = new int[sample];
        for (int i = 0; i < sample; i++) sampleIds[i] = (int)((long)i * count / sample);
        _centroids = new float[lists * dimension];
        for (int c = 0; c < lists; c++)
            keys.AsSpan(sampleIds[rng.Next(sample)] * dimension, dimension).CopyTo(_centroids.AsSpan(c * dimension));
        var assign = new int[sample];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            var norms = CentroidNorms();
            Parallel.For(0, sample, parallel, i => assign[i] = Nearest(keys.AsSpan(sampleIds[i] * dimension, dimension), norms));
            var sums = new double[lists * dimension];
            var sizes = new int[lists];
            for (int i = 0; i < sample; i++)
            {
                int c = assign[i];
                sizes[c]++;
                var row = keys.AsSpan(sampleIds[i] * dimension, dimension);
                for (int j = 0; j < dimension; j++) sums[c * dimension + j] += row[j];
            }
            for (int c = 0; c < lists; c++)
            {
                if (sizes[c] == 0)
                {
                    // Empty list: restart it on a random sample point.
                    keys.AsSpan(sampleIds[rng.Next(sample)] * dimension, dimension).CopyTo(_centroids.AsSpan(c * dimension));
                    continue;
                }
                for (int j = 0; j < dimension; j++) _centroids[c * dimension + j] = (float)(sums[c * dimension + j] / sizes[c]);
            }
        }
        var finalNorms = CentroidNorms();
        var owner = new int[count];
        Parallel.For(0, count, parallel, i => owner[i] = Nearest(keys.AsSpan(i * dimension, dimension), finalNorms));
        _listOffsets = new int[lists + 1];
        foreach (int c in owner) _listOffsets[c + 1]++;
        for (int c = 0; c < lists; c++) _listOffsets[c + 1] += _listOffsets[c];
        _listIds = new int[count];
        _listKeys = new float[(long)count * dimension];
        var next = _listOffsets.AsSpan(0, lists).ToArray();
        for (int i = 0; i < count; i++)
        {
            int slot = next[owner[i]]++;
            _listIds[slot] = i;
            keys.AsSpan(i * dimension, dimension).CopyTo(_listKeys.AsSpan(slot * dimension));
        }
    }

    public int ListCount { get; }

    public long MemoryBytes => ((long)_centroids.Length + _listKeys.Length) * sizeof(float) + ((long)_listOffsets.Length + _listIds.Length) * sizeof(int);

    private float[] CentroidNorms()
    {
        var norms = new float[ListCount];
        for (int c = 0; c < ListCount; c++)
        {
            var row = _centroids.AsSpan(c * _dimension, _dimension);
            norms[c] = TensorPrimitives.Dot(row, row);
        }
        return norms;
    }

    /// <summary>Nearest centroid by L2: argmax of 2 x·c - |c|².</summary>
    private int Nearest(ReadOnlySpan<float> x, float[] norms)
    {
        int best = 0;
        float bestScore = float.NegativeInfinity;
        for (int c = 0; c < ListCount; c++)
        {
            float s = 2 * TensorPrimitives.Dot(x, _centroids.AsSpan(c * _dimension, _dimension)) - norms[c];
            if (s > bestScore) { bestScore = s; best = c; }
        }
        return best;
    }

    /// <summary>Per-thread search buffers.</summary>
    public sealed class Scratch(int lists, int k)
    {
        public readonly float[] CentroidScores = new float[lists];
        public readonly int[] Order = new int[lists];
        public readonly TopKHeap Heap = new(k);
    }

    /// <summary>Top-k by q·k over the nprobe best lists; returns keys scored.</summary>
    public int Search(ReadOnlySpan<float> query, int k, int probes, Span<int> ids, Span<float> scores, Scratch scratch)
    {
        var centroidScores = scratch.CentroidScores;
        var order = scratch.Order;
        for (int c = 0; c < ListCount; c++)
        {
            centroidScores[c] = -TensorPrimitives.Dot(query, _centroids.AsSpan(c * _dimension, _dimension));
            order[c] = c;
        }
        centroidScores.AsSpan().Sort(order.AsSpan());
        var heap = scratch.Heap;
        heap.Clear();
        int scored = 0;
        for (int p = 0; p < Math.Min(probes, ListCount); p++)
        {
            int list = order[p];
            for (int slot = _listOffsets[list]; slot < _listOffsets[list + 1]; slot++)
            {
                float s = TensorPrimitives.Dot(query, _listKeys.AsSpan(slot * _dimension, _dimension));
                heap.Push(_listIds[slot], s);
            }
            scored += _listOffsets[list + 1] - _listOffsets[list];
        }
        ids[..k].Fill(-1);
        scores[..k].Fill(float.NaN);
        heap.DrainSorted(ids, scores);
        return scored;
    }
}
