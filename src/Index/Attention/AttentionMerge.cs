using Retrieval.Index.Errors;

namespace Retrieval.Index.Attention;

/// <summary>
/// Exact merge of two partial attentions over disjoint key sets (the FlashAttention / RetrievalAttention
/// combination): lse = logaddexp(lse_a, lse_b), out = e^(lse_a - lse)·out_a + e^(lse_b - lse)·out_b.
/// The result equals softmax attention over the union of the two sets.
/// </summary>
public static class AttentionMerge
{
    /// <summary>
    /// Merges (outputA, lseA) with (outputB, lseB) into <paramref name="merged"/> (may alias either input) and
    /// returns the merged log-sum-exp. A part with lse = -inf (no keys) contributes nothing.
    /// </summary>
    public static float Merge(ReadOnlySpan<float> outputA, float lseA, ReadOnlySpan<float> outputB, float lseB,
        Span<float> merged)
    {
        if (outputA.Length != outputB.Length || merged.Length != outputA.Length)
            Guard.ThrowInvalid($"attention outputs differ in dimension: {outputA.Length}, {outputB.Length}, merged {merged.Length}");
        if (float.IsNaN(lseA) || float.IsNaN(lseB) || float.IsPositiveInfinity(lseA) || float.IsPositiveInfinity(lseB))
            Guard.ThrowInvalid($"log-sum-exp values must be finite or -inf, got {lseA} and {lseB}");
        if (float.IsNegativeInfinity(lseB))
        {
            outputA.CopyTo(merged);
            return lseA;
        }
        if (float.IsNegativeInfinity(lseA))
        {
            outputB.CopyTo(merged);
            return lseB;
        }
        float max = MathF.Max(lseA, lseB);
        // logaddexp in double: the two weights then sum to 1 to float precision even when the parts differ a lot.
        double lse = max + Math.Log(Math.Exp(lseA - max) + Math.Exp(lseB - max));
        float weightA = (float)Math.Exp(lseA - lse);
        float weightB = (float)Math.Exp(lseB - lse);
        for (int i = 0; i < merged.Length; i++) merged[i] = weightA * outputA[i] + weightB * outputB[i];
        return (float)lse;
    }
}
