using Retrieval.Index.Errors;

namespace Retrieval.Query.Encoders;

/// <summary>
/// BM25 settings for document term weights: <see cref="K1"/> (term-frequency saturation) and <see cref="B"/>
/// (document-length normalisation). Defaults are Anserini's (k1 = 0.9, b = 0.4), which Pyserini's BEIR BM25
/// baselines use.
/// </summary>
/// <remarks>
/// SciFact nDCG@10 with exact search over bert-base-uncased WordPiece terms (BEIR paper BM25: 0.665):
/// k1 0.9 / b 0.4 -> 0.6712; 1.2 / 0.75 -> 0.6794; 0.9 / 0.75 -> 0.6787; 1.2 / 0.4 -> 0.6787. All lie within
/// 0.02; the defaults come closest to the paper, so they stay.
/// </remarks>
public sealed record Bm25Parameters(float K1 = Bm25Parameters.DefaultK1, float B = Bm25Parameters.DefaultB)
{
    public const float DefaultK1 = 0.9f;
    public const float DefaultB = 0.4f;

    public static Bm25Parameters Default { get; } = new();

    public void Validate()
    {
        if (!(K1 >= 0f) || float.IsInfinity(K1)) Guard.ThrowInvalid($"BM25 k1 must be a finite number >= 0, got {K1}");
        if (!(B >= 0f && B <= 1f)) Guard.ThrowInvalid($"BM25 b must be in [0, 1], got {B}");
    }
}
