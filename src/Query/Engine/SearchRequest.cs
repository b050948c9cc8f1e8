using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>Which field(s) a search uses.</summary>
public enum SearchMode
{
    /// <summary>Dense when only a vector (or only a dense field) is available, sparse likewise, hybrid when both are.</summary>
    Auto,
    Dense,
    Sparse,
    Hybrid,
}

/// <summary>How hybrid search fuses the dense and sparse candidate lists.</summary>
public enum FusionMethod
{
    /// <summary>Reciprocal rank fusion: sum over lists of weight / (RrfConstant + rank), rank from 1.</summary>
    ReciprocalRank,
    /// <summary>Each list's scores min-max normalised to [0, 1] (best = 1), then weighted and summed; a missing entry counts 0.</summary>
    WeightedScore,
}

/// <summary>
/// One search. Give a dense <see cref="Vector"/>, a <see cref="Sparse"/> vector, and/or <see cref="Text"/> (encoded by
/// the engine for collections with text encoders; it fills whichever of the two vectors is not given).
/// </summary>
public sealed record SearchRequest
{
    public const int DefaultK = 10;
    public const int DefaultRrfConstant = 60;
    public const int DefaultHybridCandidates = 100;

    public float[]? Vector { get; init; }
    public SparseTerms? Sparse { get; init; }
    public string? Text { get; init; }
    public SearchMode Mode { get; init; } = SearchMode.Auto;
    /// <summary>Results wanted (default 10).</summary>
    public int K { get; init; } = DefaultK;
    public FusionMethod Fusion { get; init; } = FusionMethod.ReciprocalRank;
    /// <summary>Weight of the dense list in fusion (default 1).</summary>
    public float DenseWeight { get; init; } = 1;
    /// <summary>Weight of the sparse list in fusion (default 1).</summary>
    public float SparseWeight { get; init; } = 1;
    /// <summary>RRF's k constant (default 60, as in Cormack et al.).</summary>
    public int RrfConstant { get; init; } = DefaultRrfConstant;
    /// <summary>Candidates taken from each list before fusion; 0 = max(K, 100).</summary>
    public int Candidates { get; init; }
    /// <summary>Whether hits carry their payload (default false).</summary>
    public bool WithPayload { get; init; }

    internal void Validate(int maxK, string field = "query")
    {
        if (K < 1 || K > maxK) Guard.ThrowInvalid($"{field}.k must be in [1, {maxK}], got {K}");
        if (!Enum.IsDefined(Mode)) Guard.ThrowInvalid($"{field}.mode {(int)Mode} is unknown");
        if (!Enum.IsDefined(Fusion)) Guard.ThrowInvalid($"{field}.fusion {(int)Fusion} is unknown");
        if (!float.IsFinite(DenseWeight) || DenseWeight < 0) Guard.ThrowInvalid($"{field}.dense_weight must be a finite number >= 0, got {DenseWeight}");
        if (!float.IsFinite(SparseWeight) || SparseWeight < 0) Guard.ThrowInvalid($"{field}.sparse_weight must be a finite number >= 0, got {SparseWeight}");
        if (RrfConstant < 0) Guard.ThrowInvalid($"{field}.rrf_k must be >= 0, got {RrfConstant}");
        if (Candidates < 0 || Candidates > maxK) Guard.ThrowInvalid($"{field}.candidates must be in [0, {maxK}] (0 = max(k, 100)), got {Candidates}");
        if (Vector is null && Sparse is null && string.IsNullOrEmpty(Text))
            Guard.ThrowInvalid($"{field} has no vector, sparse vector or text");
    }
}

/// <summary>One result: the record's key, its score (natural units for one field, the fused score for hybrid), and the payload when asked for.</summary>
public sealed record SearchHit(RecordKey Key, float Score, byte[]? Payload);
