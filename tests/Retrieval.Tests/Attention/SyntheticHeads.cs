using System.Numerics.Tensors;
using Retrieval.Index.Attention;

namespace Retrieval.Tests.Attention;

/// <summary>
/// Small synthetic attention heads with the property that matters: queries drawn from a different distribution
/// than keys (a shared offset direction plus their own noise), keys with varied norms.
/// </summary>
internal sealed class SyntheticHead
{
    public SyntheticHead(int keyCount, int queryCount, int dimension, int seed)
    {
        KeyCount = keyCount;
        QueryCount = queryCount;
        Dimension = dimension;
        var rng = new Random(seed);
        var offset = new float[dimension];
        for (int j = 0; j < dimension; j++) offset[j] = (float)Gaussian(rng);
        Keys = new float[keyCount * dimension];
        Values = new float[keyCount * dimension];
        for (int i = 0; i < keyCount; i++)
        {
            float scale = 0.5f + (float)rng.NextDouble();
            for (int j = 0; j < dimension; j++)
            {
                Keys[i * dimension + j] = scale * (float)Gaussian(rng);
                Values[i * dimension + j] = (float)Gaussian(rng);
            }
        }
        TrainingQueries = MakeQueries(rng, queryCount, offset);
        TestQueries = MakeQueries(rng, 100, offset);
    }

    public int KeyCount { get; }
    public int QueryCount { get; }
    public int Dimension { get; }
    public float[] Keys { get; }
    public float[] Values { get; }
    public float[] TrainingQueries { get; }
    public float[] TestQueries { get; }

    public ReadOnlySpan<float> TestQuery(int i) => TestQueries.AsSpan(i * Dimension, Dimension);

    private float[] MakeQueries(Random rng, int count, float[] offset)
    {
        var q = new float[count * Dimension];
        for (int i = 0; i < count; i++)
            for (int j = 0; j < Dimension; j++) q[i * Dimension + j] = 1.5f * offset[j] + 0.7f * (float)Gaussian(rng);
        return q;
    }

    /// <summary>Exact top-k positions by q·k among keys [0, count) outside [0, sinkEnd) and [windowStart, count).</summary>
    public static int[] ExactTopK(float[] keys, int count, int dimension, ReadOnlySpan<float> query, int k,
        int sinkEnd = 0, int windowStart = int.MaxValue)
    {
        var scores = new List<(float Score, int Id)>();
        for (int i = 0; i < count; i++)
        {
            if (i < sinkEnd || i >= windowStart) continue;
            scores.Add((TensorPrimitives.Dot(query, keys.AsSpan(i * dimension, dimension)), i));
        }
        scores.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Id.CompareTo(b.Id));
        return scores.Take(k).Select(s => s.Id).ToArray();
    }

    /// <summary>All keys of <paramref name="store"/>, row-major (Count x Dimension), for exact reference searches.</summary>
    public static float[] AllKeys(KeyValueStore store)
    {
        var keys = new float[store.Count * store.Dimension];
        for (int p = 0; p < store.Count; p++) store.Key(p).CopyTo(keys.AsSpan(p * store.Dimension, store.Dimension));
        return keys;
    }

    internal static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
