using Retrieval.Index.Errors;

namespace Retrieval.Index.Attention;

/// <summary>
/// Per-call settings of a key search or partial-attention call (k itself is an argument of the call). The static part (the first
/// <see cref="SinkTokens"/> positions and the last <see cref="WindowTokens"/> positions of the sequence) is what
/// the caller attends to exactly on its own side, so the engine never returns those positions.
/// </summary>
public sealed record AttentionSearchParameters
{
    public const int DefaultSearchBeamWidth = 128;

    /// <summary>ef: the beam width of the best-first search; at least k is used.</summary>
    public int SearchBeamWidth { get; init; } = DefaultSearchBeamWidth;

    /// <summary>S: attention-sink positions [0, S) kept by the caller and excluded here.</summary>
    public int SinkTokens { get; init; }

    /// <summary>W: the most recent W positions kept by the caller and excluded here.</summary>
    public int WindowTokens { get; init; }

    /// <summary>Softmax scale applied to q·k for partial attention; NaN means 1/sqrt(head dimension).</summary>
    public float ScoreScale { get; init; } = float.NaN;

    public static AttentionSearchParameters Default { get; } = new();

    public AttentionSearchParameters Validate()
    {
        if (SearchBeamWidth < 1) Guard.ThrowInvalid($"SearchBeamWidth (ef) must be >= 1, got {SearchBeamWidth}");
        if (SinkTokens < 0) Guard.ThrowInvalid($"SinkTokens (S) must be >= 0, got {SinkTokens}");
        if (WindowTokens < 0) Guard.ThrowInvalid($"WindowTokens (W) must be >= 0, got {WindowTokens}");
        if (!float.IsNaN(ScoreScale) && !(ScoreScale > 0 && float.IsFinite(ScoreScale)))
            Guard.ThrowInvalid($"ScoreScale must be a positive finite number (or NaN for 1/sqrt(d)), got {ScoreScale}");
        return this;
    }

    /// <summary>Checks these parameters and <paramref name="k"/> against a sequence of <paramref name="tokenCount"/> positions.</summary>
    public void ValidateFor(int k, int tokenCount)
    {
        Validate();
        Guard.ValidK(k);
        if ((long)SinkTokens + WindowTokens > tokenCount)
            Guard.ThrowInvalid($"static part larger than the sequence: SinkTokens {SinkTokens} + WindowTokens {WindowTokens} > {tokenCount} keys");
        long searchable = tokenCount - (long)SinkTokens - WindowTokens;
        if (k > searchable)
            Guard.ThrowInvalid($"k = {k} is larger than the {searchable} searchable keys ({tokenCount} keys minus {SinkTokens} sink and {WindowTokens} window positions)");
    }

    public float ScaleFor(int dimension) => float.IsNaN(ScoreScale) ? 1f / MathF.Sqrt(dimension) : ScoreScale;
}
