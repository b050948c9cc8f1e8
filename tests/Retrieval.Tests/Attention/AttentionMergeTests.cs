using System.Numerics.Tensors;
using Retrieval.Index.Attention;
using Retrieval.Index.Errors;

namespace Retrieval.Tests.Attention;

public class AttentionMergeTests
{
    /// <summary>Softmax attention over all keys in double precision: the reference.</summary>
    private static double[] FullAttention(float[] keys, float[] values, int n, int d, ReadOnlySpan<float> q, float scale)
    {
        var logits = new double[n];
        double max = double.NegativeInfinity;
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++) s += (double)q[j] * keys[i * d + j];
            logits[i] = s * scale;
            max = Math.Max(max, logits[i]);
        }
        var output = new double[d];
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double w = Math.Exp(logits[i] - max);
            sum += w;
            for (int j = 0; j < d; j++) output[j] += w * values[i * d + j];
        }
        for (int j = 0; j < d; j++) output[j] /= sum;
        return output;
    }

    [Fact]
    public void StaticPartMergedWithRetrievedPartEqualsFullAttention()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 40; trial++)
        {
            int n = rng.Next(2, 600), d = rng.Next(1, 70);
            var keys = new float[n * d];
            var values = new float[n * d];
            for (int i = 0; i < keys.Length; i++) { keys[i] = (float)(3 * SyntheticHead.Gaussian(rng)); values[i] = (float)SyntheticHead.Gaussian(rng); }
            var q = new float[d];
            for (int j = 0; j < d; j++) q[j] = (float)SyntheticHead.Gaussian(rng);
            float scale = 1f / MathF.Sqrt(d);
            var store = new KeyValueStore(d, keys, values, n);

            // Static part: sink [0, s) and window [n - w, n); the rest is "retrieved" in shuffled order.
            int s = rng.Next(0, n / 2), w = rng.Next(0, n - s);
            var staticOut = new float[d];
            var sinkOut = new float[d];
            float lseSink = PartialAttention.OverRange(store, q, 0, s, scale, sinkOut);
            var windowOut = new float[d];
            float lseWindow = PartialAttention.OverRange(store, q, n - w, w, scale, windowOut);
            float lseStatic = AttentionMerge.Merge(sinkOut, lseSink, windowOut, lseWindow, staticOut);

            var rest = Enumerable.Range(s, n - w - s).OrderBy(_ => rng.Next()).ToArray();
            var restScores = rest.Select(i => TensorPrimitives.Dot(q, store.Key(i))).ToArray();
            var retrievedOut = new float[d];
            float lseRetrieved = PartialAttention.OverRetrieved(store, rest, restScores, scale, retrievedOut);

            var merged = new float[d];
            float lse = AttentionMerge.Merge(staticOut, lseStatic, retrievedOut, lseRetrieved, merged);

            var reference = FullAttention(keys, values, n, d, q, scale);
            double err = 0, norm = 0;
            for (int j = 0; j < d; j++) { err += Math.Pow(merged[j] - reference[j], 2); norm += reference[j] * reference[j]; }
            Assert.True(Math.Sqrt(err) <= 2e-6 * Math.Max(1.0, Math.Sqrt(norm)) * Math.Sqrt(d),
                $"trial {trial} n={n} d={d} s={s} w={w}: merged output differs from full attention by {Math.Sqrt(err)} (norm {Math.Sqrt(norm)})");
            Assert.False(float.IsNaN(lse));
        }
    }

    [Fact]
    public void EmptyPartContributesNothing()
    {
        var a = new float[] { 1, 2, 3 };
        var merged = new float[3];
        Assert.Equal(0.5f, AttentionMerge.Merge(a, 0.5f, new float[3], float.NegativeInfinity, merged));
        Assert.Equal(a, merged);
        Assert.Equal(0.5f, AttentionMerge.Merge(new float[3], float.NegativeInfinity, a, 0.5f, merged));
        Assert.Equal(a, merged);
        Assert.Equal(float.NegativeInfinity, AttentionMerge.Merge(a, float.NegativeInfinity, a, float.NegativeInfinity, merged));
    }

    [Fact]
    public void MergeRejectsMismatchedDimensionsAndNaN()
    {
        var ex = Assert.Throws<RetrievalException>(() => AttentionMerge.Merge(new float[3], 0, new float[4], 0, new float[3]));
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains("dimension", ex.Message);
        ex = Assert.Throws<RetrievalException>(() => AttentionMerge.Merge(new float[3], float.NaN, new float[3], 0, new float[3]));
        Assert.Contains("log-sum-exp", ex.Message);
    }
}
