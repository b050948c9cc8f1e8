using Retrieval.Index.Errors;

namespace Retrieval.Index.Spann;

/// <summary>Where search reads postings from.</summary>
public enum PostingIoMode
{
    /// <summary>Positional reads through the page cache.</summary>
    Buffered,
    /// <summary>O_DIRECT reads: every posting read is a device read (the SSD setting SPANN is designed for).</summary>
    Direct,
    /// <summary>The posting file is loaded into memory once; no reads at query time.</summary>
    Memory,
}

/// <summary>Query-time parameters of SPANN search, passed per call.</summary>
public sealed record SpannSearchParameters
{
    public const int DefaultHeads = 64;
    public const double DefaultPruneEpsilon = 0.6;
    /// <summary>0: the beam follows M (<see cref="BeamFor"/>).</summary>
    public const int DefaultSearchBeamWidth = 0;
    public const int DefaultRerankFactor = 4;

    /// <summary>Heads whose postings are searched (M, "internal result num").</summary>
    public int Heads { get; init; } = DefaultHeads;

    /// <summary>
    /// Query-aware pruning (eps2): keep head j only if its distance is within (1 + eps2) of the nearest head's.
    /// For L2 the distance is Euclidean; for cosine it is 1 - cos; for inner product it is the score gap
    /// s_1 - s_j measured against |s_1|. Negative disables pruning.
    /// </summary>
    public double PruneEpsilon { get; init; } = DefaultPruneEpsilon;

    /// <summary>Beam of the navigation-graph search over heads (ef); at least <see cref="Heads"/> is used; 0 = tied to M.</summary>
    public int SearchBeamWidth { get; init; } = DefaultSearchBeamWidth;

    /// <summary>With quantized storage: k * this many candidates are re-scored exactly from the full-precision copy.</summary>
    public int RerankFactor { get; init; } = DefaultRerankFactor;

    public PostingIoMode Io { get; init; } = PostingIoMode.Buffered;

    /// <summary>
    /// The beam a search for <paramref name="heads"/> heads uses: the explicit width, else M plus a small margin.
    /// Replicas and eps2 pruning make the tail of the M heads forgiving, so a wider beam buys almost no recall for
    /// many more head evaluations (docs/BENCHMARKS.md, SPANN).
    /// </summary>
    public int BeamFor(int heads) =>
        SearchBeamWidth > 0 ? Math.Max(SearchBeamWidth, heads) : heads + Math.Max(4, heads / 4);

    public void Validate()
    {
        if (Heads < 1) Guard.ThrowInvalid($"heads (M) must be >= 1, got {Heads}");
        if (double.IsNaN(PruneEpsilon) || double.IsInfinity(PruneEpsilon)) Guard.ThrowInvalid($"prune epsilon (eps2) must be finite, got {PruneEpsilon}");
        if (SearchBeamWidth < 0) Guard.ThrowInvalid($"search beam width must be >= 1 (or 0 = tied to M), got {SearchBeamWidth}");
        if (RerankFactor < 1) Guard.ThrowInvalid($"rerank factor must be >= 1, got {RerankFactor}");
    }
}
