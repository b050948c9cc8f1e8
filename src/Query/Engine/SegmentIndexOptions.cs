using Retrieval.Index.Errors;
using Retrieval.Index.Seismic;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Engine;

/// <summary>Which index a sealed segment's dense field gets.</summary>
public enum DenseIndexKind
{
    /// <summary>SPANN (heads + navigation graph + disk postings) for segments of at least <see cref="DenseIndexOptions.MinRows"/> rows, exact below.</summary>
    Spann,
    /// <summary>Brute force over every row.</summary>
    Exact,
}

/// <summary>Which index a sealed segment's sparse field gets.</summary>
public enum SparseIndexKind
{
    /// <summary>Seismic (pruned, blocked, summarised posting lists) for segments of at least <see cref="SparseIndexOptions.MinRows"/> rows, exact below.</summary>
    Seismic,
    /// <summary>Brute force over every row.</summary>
    Exact,
}

/// <summary>
/// How sealed segments index the dense field; part of the schema (null there means these defaults). <see cref="Build"/>
/// applies when a segment is sealed or compacted; <see cref="Search"/> applies to every SPANN segment, attached ones
/// included. Stored in the schema as <see cref="IndexOptionsJson"/> describes.
/// </summary>
public sealed record DenseIndexOptions
{
    public static readonly DenseIndexOptions Default = new();
    public const int DefaultMinRows = 4096;
    public const int MaxSearchHeads = 65536;

    public DenseIndexKind Kind { get; init; } = DenseIndexKind.Spann;
    /// <summary>Segments with fewer rows are searched exactly: for them a scan is as fast and exact.</summary>
    public int MinRows { get; init; } = DefaultMinRows;

    /// <summary>
    /// SPANN build options of each segment index. The engine sets three itself: the metric (the field's), one build
    /// thread and a 32 MiB posting write window — a segment build runs beside live traffic, so it takes one core, never
    /// all of them, and the default write window would be allocated per build and kept by the GC heap.
    /// Postings are float16 by default: the engine spools a segment's float32 vectors to float16 before the build
    /// (exact for the build, so no full-precision copy is written), which halves the bytes each posting read moves
    /// and fits twice the vectors in a page-capped posting (docs/BENCHMARKS.md, SPANN and engine).
    /// </summary>
    public SpannBuildOptions Build { get; init; } = new() { Storage = SpannStorage.Float16 };

    /// <summary>SPANN search parameters of every SPANN segment; where postings are read from follows <see cref="InMemory"/>.</summary>
    public SpannSearchParameters Search { get; init; } = new();

    /// <summary>
    /// Keep postings in process memory, or (the default) read them from disk with O_DIRECT batched reads while the
    /// heads and the navigation graph stay in memory: SPANN's memory/SSD split. In memory costs several times the
    /// raw vectors (replicas, page padding) and issues no reads.
    /// </summary>
    public bool InMemory { get; init; }

    internal SpannBuildOptions SegmentBuildOptions(Metric metric) => Build with { Metric = metric, Threads = 1, WriteBufferBytes = 32L << 20 };

    internal SpannSearchParameters SegmentSearchParameters() => Search with { Io = InMemory ? PostingIoMode.Memory : PostingIoMode.Direct };

    internal void Validate()
    {
        if (!Enum.IsDefined(Kind)) Guard.ThrowInvalid($"dense.index.kind {(int)Kind} is unknown");
        if (MinRows < 1) Guard.ThrowInvalid($"dense.index.min_rows must be >= 1, got {MinRows}");
        if (Build is null) Guard.ThrowInvalid("dense.index.build is null");
        if (Search is null) Guard.ThrowInvalid("dense.index.search is null");
        if (Search.Heads < 1 || Search.Heads > MaxSearchHeads)
            Guard.ThrowInvalid($"dense.index.search_heads must be in [1, {MaxSearchHeads}], got {Search.Heads}");
        try
        {
            SegmentBuildOptions(Metric.L2).Validate();
            SegmentSearchParameters().Validate();
        }
        catch (RetrievalException e) { Guard.ThrowInvalid($"dense.index: {e.Message}"); }
    }
}

/// <summary>
/// How sealed segments index the sparse field; part of the schema (null there means these defaults).
/// <see cref="Build"/> applies when a segment is sealed or compacted, <see cref="Search"/> to every Seismic segment.
/// </summary>
public sealed record SparseIndexOptions
{
    public static readonly SparseIndexOptions Default = new();
    public const int DefaultMinRows = 4096;

    public SparseIndexKind Kind { get; init; } = SparseIndexKind.Seismic;
    /// <summary>Segments with fewer rows are searched exactly.</summary>
    public int MinRows { get; init; } = DefaultMinRows;

    /// <summary>
    /// Seismic build options of each segment index; the engine builds on one thread (segment builds run beside live
    /// traffic). A kNN graph (<see cref="SeismicBuildOptions.KnnNeighbours"/> > 0) is built by searching every
    /// document through the new index, which makes sealing several times slower.
    /// </summary>
    public SeismicBuildOptions Build { get; init; } = new();

    /// <summary>Seismic search parameters of every Seismic segment.</summary>
    public SeismicSearchParameters Search { get; init; } = new();

    internal SeismicBuildOptions SegmentBuildOptions() => Build with { Threads = 1 };

    internal SeismicSearchParameters SegmentSearchParameters() => Search;

    internal void Validate()
    {
        if (!Enum.IsDefined(Kind)) Guard.ThrowInvalid($"sparse.index.kind {(int)Kind} is unknown");
        if (MinRows < 1) Guard.ThrowInvalid($"sparse.index.min_rows must be >= 1, got {MinRows}");
        if (Build is null) Guard.ThrowInvalid("sparse.index.build is null");
        if (Search is null) Guard.ThrowInvalid("sparse.index.search is null");
        try
        {
            SegmentBuildOptions().Validate();
            SegmentSearchParameters().Validate();
        }
        catch (RetrievalException e) { Guard.ThrowInvalid($"sparse.index: {e.Message}"); }
    }
}
