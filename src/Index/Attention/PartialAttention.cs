using System.Numerics.Tensors;

namespace Retrieval.Index.Attention;

/// <summary>
/// Softmax attention over a subset of positions, returned in the mergeable form (output, log-sum-exp): output is
/// the softmax-weighted average of the subset's values, lse = log Σ exp(scale·q·k) over the subset. An empty
/// subset has lse = -inf and output 0, which <see cref="AttentionMerge"/> treats as "no contribution".
/// </summary>
public static class PartialAttention
{
    /// <summary>Attention over retrieved positions whose raw scores q·k are already known.</summary>
    public static float OverRetrieved(KeyValueStore store, ReadOnlySpan<int> positions, ReadOnlySpan<float> rawScores,
        float scale, Span<float> output)
    {
        output.Clear();
        if (positions.Length == 0) return float.NegativeInfinity;
        float max = float.NegativeInfinity;
        for (int i = 0; i < rawScores.Length; i++) max = MathF.Max(max, rawScores[i] * scale);
        double sum = 0;
        for (int i = 0; i < positions.Length; i++)
        {
            float weight = MathF.Exp(rawScores[i] * scale - max);
            sum += weight;
            TensorPrimitives.MultiplyAdd(store.Value(positions[i]), weight, output, output);
        }
        TensorPrimitives.Multiply(output, (float)(1.0 / sum), output);
        return max + (float)Math.Log(sum);
    }

    /// <summary>Exact attention over the contiguous positions [start, start + count) (e.g. the caller's static part).</summary>
    public static float OverRange(KeyValueStore store, ReadOnlySpan<float> query, int start, int count, float scale,
        Span<float> output)
    {
        output.Clear();
        if (count == 0) return float.NegativeInfinity;
        float max = float.NegativeInfinity;
        for (int p = start; p < start + count; p++) max = MathF.Max(max, TensorPrimitives.Dot(query, store.Key(p)) * scale);
        double sum = 0;
        for (int p = start; p < start + count; p++)
        {
            float weight = MathF.Exp(TensorPrimitives.Dot(query, store.Key(p)) * scale - max);
            sum += weight;
            TensorPrimitives.MultiplyAdd(store.Value(p), weight, output, output);
        }
        TensorPrimitives.Multiply(output, (float)(1.0 / sum), output);
        return max + (float)Math.Log(sum);
    }
}
