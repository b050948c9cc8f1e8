using Retrieval.Index.Errors;
using Retrieval.Index.Spann;
using Retrieval.Index.Seismic;

namespace Retrieval.Query.Engine;

/// <summary>Which index a sealed segment's dense field gets.</summary>
public enum DenseIndexKind
{
    /// <summary>SPANN (heads + navigation graph + disk postings) for segments of at least <see cref="DenseIndexSettings.MinRows"/> rows, exact below.</summary>
    Spann,
    /// <summary>Brute force over every row.</summary>
    Exact,
}

/// <summary>Which index a sealed segment's sparse field gets.</summary>
public enum SparseIndexKind
{
    /// <summary>Seismic (pruned, blocked, summarised posting lists) for segments of at least <see cref="SparseIndexSettings.MinRows"/> rows, exact below.</summary>
    Seismic,
    /// <summary>Brute force over every row.</summary>
    Exact,
}

/// <summary>
/// How sealed segments index the dense field; part of the schema (null there means these defaults). Build settings
/// apply when a segment is sealed or compacted; search settings apply to every SPANN segment, attached ones included.
/// </summary>
public sealed record DenseIndexSettings
{
    public static readonly DenseIndexSettings Default = new();
    public const int DefaultMinRows = 4096;

    public DenseIndexKind Kind { get; init; } = DenseIndexKind.Spann;
    /// <summary>Segments with fewer rows are searched exactly: for them a scan is as fast and exact.</summary>
    public int MinRows { get; init; } = DefaultMinRows;
    public double HeadRatio { get; init; } = SpannBuildOptions.DefaultHeadRatio;
    public int ReplicaCount { get; init; } = SpannBuildOptions.DefaultReplicaCount;
    public int PostingPages { get; init; } = SpannBuildOptions.DefaultPostingPages;
    public SpannStorage Storage { get; init; } = SpannStorage.Float32;
    /// <summary>Heads (postings) probed per query.</summary>
    public int SearchHeads { get; init; } = SpannSearchParameters.DefaultHeads;
    /// <summary>eps2: skip heads farther than (1 + eps2) x the nearest head.</summary>
    public double PruneEpsilon { get; init; } = SpannSearchParameters.DefaultPruneEpsilon;
    /// <summary>
    /// Keep postings in process memory (default) or read them from disk through the page cache. In memory costs
    /// several times the raw vectors (replicas, page padding) but issues no reads; disk mode saves that memory and
    /// reads through SPANN's pool-thread read batches.
    /// </summary>
    public bool InMemory { get; init; } = true;

    internal SpannBuildOptions BuildOptions(Index.Vectors.Metric metric) => new()
    {
        Metric = metric,
        HeadRatio = HeadRatio,
        ReplicaCount = ReplicaCount,
        PostingPages = PostingPages,
        Storage = Storage,
        // A segment build runs beside live traffic: one core, never all of them, and a small posting write
        // window (the default 256 MiB would be allocated per build and kept by the GC heap).
        Threads = 1,
        WriteBufferBytes = 8L << 20,
    };

    internal SpannSearchParameters SearchParameters() => new()
    {
        Heads = SearchHeads,
        PruneEpsilon = PruneEpsilon,
        Io = InMemory ? PostingIoMode.Memory : PostingIoMode.Buffered,
    };

    internal void Validate()
    {
        if (!Enum.IsDefined(Kind)) Guard.ThrowInvalid($"dense.index.kind {(int)Kind} is unknown");
        if (MinRows < 1) Guard.ThrowInvalid($"dense.index.min_rows must be >= 1, got {MinRows}");
        if (SearchHeads < 1 || SearchHeads > 65536) Guard.ThrowInvalid($"dense.index.search_heads must be in [1, 65536], got {SearchHeads}");
        try
        {
            BuildOptions(Index.Vectors.Metric.L2).Validate();
            SearchParameters().Validate();
        }
        catch (RetrievalException e) { Guard.ThrowInvalid($"dense.index: {e.Message}"); }
    }
}

/// <summary>How sealed segments index the sparse field; part of the schema (null there means these defaults).</summary>
public sealed record SparseIndexSettings
{
    public static readonly SparseIndexSettings Default = new();
    public const int DefaultMinRows = 4096;

    public SparseIndexKind Kind { get; init; } = SparseIndexKind.Seismic;
    /// <summary>Segments with fewer rows are searched exactly.</summary>
    public int MinRows { get; init; } = DefaultMinRows;
    /// <summary>Average posting-list length kept after pruning (Seismic's global budget).</summary>
    public double AvgPostings { get; init; } = SeismicBuildOptions.DefaultAvgPostings;
    public double CentroidFraction { get; init; } = SeismicBuildOptions.DefaultCentroidFraction;
    public double SummaryEnergy { get; init; } = SeismicBuildOptions.DefaultSummaryEnergy;
    /// <summary>Largest query terms used to pick posting lists.</summary>
    public int QueryCut { get; init; } = SeismicSearchParameters.DefaultQueryCut;
    public float HeapFactor { get; init; } = SeismicSearchParameters.DefaultHeapFactor;
    /// <summary>See <see cref="SeismicSearchParameters.HeapFactorGrowth"/> (0: one heap factor for every list).</summary>
    public float HeapFactorGrowth { get; init; }
    /// <summary>
    /// kNN graph neighbours per document built with each segment's index (0 = none; see
    /// <see cref="SeismicBuildOptions.KnnNeighbours"/>): searches then refine with the graph. The graph is built by
    /// searching every document through the new index, which makes sealing several times slower.
    /// </summary>
    public int KnnNeighbours { get; init; }

    internal SeismicBuildOptions BuildOptions() => new()
    {
        AvgPostings = AvgPostings,
        CentroidFraction = CentroidFraction,
        SummaryEnergy = SummaryEnergy,
        KnnNeighbours = KnnNeighbours,
        Threads = 1,
    };

    internal SeismicSearchParameters SearchParameters() => new() { QueryCut = QueryCut, HeapFactor = HeapFactor, HeapFactorGrowth = HeapFactorGrowth };

    internal void Validate()
    {
        if (!Enum.IsDefined(Kind)) Guard.ThrowInvalid($"sparse.index.kind {(int)Kind} is unknown");
        if (MinRows < 1) Guard.ThrowInvalid($"sparse.index.min_rows must be >= 1, got {MinRows}");
        try
        {
            BuildOptions().Validate();
            SearchParameters().Validate();
        }
        catch (RetrievalException e) { Guard.ThrowInvalid($"sparse.index: {e.Message}"); }
    }
}
