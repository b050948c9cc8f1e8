using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>
/// Build-time parameters of a SPANN index (query-time ones are in <see cref="SpannSearchParameters"/>).
/// Paper aliases in the comments; <see cref="Validate"/> names every bad value.
/// </summary>
public sealed record SpannBuildOptions
{
    public const double DefaultHeadRatio = 0.12;
    public const int DefaultReplicaCount = 8;
    public const double DefaultClosureEpsilon = 1.0;
    public const double DefaultRngFactor = 1.0;
    public const int DefaultPostingPages = 16;
    public const int DefaultSampleSize = 250_000;
    public const int DefaultHeadCandidates = 32;
    public const int DefaultGraphDegree = 32;
    /// <summary>
    /// The measured crossover between the exact blocked scan of all heads and the graph beam at equal recall
    /// (docs/BENCHMARKS.md, SPANN): the scan grows with the head count, the graph search barely.
    /// </summary>
    public const int DefaultExactAssignmentMaxHeads = 12_288;
    public const int DefaultGraphBuildCandidates = 64;
    public const double DefaultGraphAlpha = 1.2;
    /// <summary>64 MiB: each write window re-streams the input (cheap, from the page cache), a bigger one only raises peak memory.</summary>
    public const long DefaultWriteBufferBytes = 64L << 20;

    public Metric Metric { get; init; } = Metric.L2;

    /// <summary>Heads as a fraction of the vectors (SPANN keeps about 10-16% of N in memory as centroids).</summary>
    public double HeadRatio { get; init; } = DefaultHeadRatio;

    /// <summary>Most postings one vector is written to (R, "replica count").</summary>
    public int ReplicaCount { get; init; } = DefaultReplicaCount;

    /// <summary>Closure rule (eps1): head j is a candidate if d(x, c_j) &lt;= (1 + eps1) d(x, c_1), L2 distances.</summary>
    public double ClosureEpsilon { get; init; } = DefaultClosureEpsilon;

    /// <summary>RNG rule: skip head j when an accepted head i has RngFactor * d(c_i, c_j) &lt; d(x, c_j).</summary>
    public double RngFactor { get; init; } = DefaultRngFactor;

    /// <summary>Posting length cap, in 4 KiB pages (the page budget); overflow moves to the next-best head.</summary>
    public int PostingPages { get; init; } = DefaultPostingPages;

    /// <summary>
    /// Posting vector storage; null (the default) follows the input's precision by
    /// <see cref="SpannStorageExtensions.DefaultFor"/>, the one default rule of the CLI, the bench and the engine.
    /// </summary>
    public SpannStorage? Storage { get; init; }

    /// <summary>The storage a build from <paramref name="input"/> vectors uses: <see cref="Storage"/> if set, else the default rule.</summary>
    public SpannStorage StorageFor(ElementType input) => Storage ?? SpannStorageExtensions.DefaultFor(input);

    /// <summary>Rows sampled (reservoir, streaming) for head selection; heads are real sampled vectors.</summary>
    public int SampleSize { get; init; } = DefaultSampleSize;

    /// <summary>Nearest heads found per vector at assignment (the closure/RNG rules and overflow choose among them).</summary>
    public int HeadCandidates { get; init; } = DefaultHeadCandidates;

    /// <summary>
    /// Posting assignment finds each vector's <see cref="HeadCandidates"/> nearest heads exactly (blocked scan of all
    /// heads, a blocked SIMD kernel) up to this many heads, and by a beam search of the navigation graph above it.
    /// </summary>
    public int ExactAssignmentMaxHeads { get; init; } = DefaultExactAssignmentMaxHeads;

    /// <summary>Beam of the graph search at assignment; 0 = 2 x <see cref="HeadCandidates"/> (comfortably more than R).</summary>
    public int AssignmentBeamWidth { get; init; }

    internal int AssignmentBeam => AssignmentBeamWidth > 0 ? Math.Max(AssignmentBeamWidth, HeadCandidates) : 2 * HeadCandidates;

    /// <summary>Navigation graph out-degree over heads (Vamana's R, HNSW's M).</summary>
    public int GraphDegree { get; init; } = DefaultGraphDegree;

    /// <summary>Nearest heads considered per head when building the graph.</summary>
    public int GraphBuildCandidates { get; init; } = DefaultGraphBuildCandidates;

    /// <summary>Vamana's alpha: a candidate edge survives pruning unless alpha * d(kept, c) &lt;= d(p, c).</summary>
    public double GraphAlpha { get; init; } = DefaultGraphAlpha;

    /// <summary>Balanced k-means: iterations and size penalty (lambda).</summary>
    public int KMeansIterations { get; init; } = 8;
    public double BalancePenalty { get; init; } = 1.0;

    /// <summary>Rows with NaN or infinity: false rejects the input naming the row; true skips them (counted in the manifest).</summary>
    public bool SkipNonFinite { get; init; }

    /// <summary>0 = all cores.</summary>
    public int Threads { get; init; }

    /// <summary>Memory for assembling the posting file window by window (bounds build memory on big inputs).</summary>
    public long WriteBufferBytes { get; init; } = DefaultWriteBufferBytes;

    public int Seed { get; init; } = 20211206;

    public void Validate()
    {
        var problems = new List<string>();
        if (!(HeadRatio > 0 && HeadRatio <= 1)) problems.Add($"head ratio must be in (0, 1], got {HeadRatio}");
        if (ReplicaCount < 1 || ReplicaCount > 64) problems.Add($"replica count must be in 1..64, got {ReplicaCount}");
        if (!(ClosureEpsilon >= 0) || double.IsInfinity(ClosureEpsilon)) problems.Add($"closure epsilon (eps1) must be finite and >= 0, got {ClosureEpsilon}");
        if (!(RngFactor > 0) || double.IsInfinity(RngFactor)) problems.Add($"RNG factor must be finite and > 0, got {RngFactor}");
        if (PostingPages < 1 || PostingPages > 4096) problems.Add($"posting pages must be in 1..4096, got {PostingPages}");
        if (SampleSize < 2) problems.Add($"sample size must be >= 2, got {SampleSize}");
        if (HeadCandidates < 1 || HeadCandidates > 1024) problems.Add($"head candidates must be in 1..1024, got {HeadCandidates}");
        if (HeadCandidates < ReplicaCount) problems.Add($"head candidates ({HeadCandidates}) must be >= replica count ({ReplicaCount})");
        if (ExactAssignmentMaxHeads < 0) problems.Add($"exact assignment head limit must be >= 0, got {ExactAssignmentMaxHeads}");
        if (AssignmentBeamWidth < 0) problems.Add($"assignment beam width must be >= 0 (0 = automatic), got {AssignmentBeamWidth}");
        if (GraphDegree < 2 || GraphDegree > 256) problems.Add($"graph degree must be in 2..256, got {GraphDegree}");
        if (GraphBuildCandidates < GraphDegree) problems.Add($"graph build candidates ({GraphBuildCandidates}) must be >= graph degree ({GraphDegree})");
        if (!(GraphAlpha >= 1) || double.IsInfinity(GraphAlpha)) problems.Add($"graph alpha must be finite and >= 1, got {GraphAlpha}");
        if (KMeansIterations < 1) problems.Add($"k-means iterations must be >= 1, got {KMeansIterations}");
        if (!(BalancePenalty >= 0) || double.IsInfinity(BalancePenalty)) problems.Add($"balance penalty must be finite and >= 0, got {BalancePenalty}");
        if (Threads < 0) problems.Add($"threads must be >= 0 (0 = all cores), got {Threads}");
        if (WriteBufferBytes < (1 << 20)) problems.Add($"write buffer must be >= 1 MiB, got {WriteBufferBytes} bytes");
        if (problems.Count > 0) Guard.ThrowInvalid("invalid SPANN build options: " + string.Join("; ", problems));
    }

    internal int ThreadCount => Threads == 0 ? Environment.ProcessorCount : Threads;
}
