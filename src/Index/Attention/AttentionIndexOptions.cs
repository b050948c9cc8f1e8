using Retrieval.Index.Errors;

namespace Retrieval.Index.Attention;

/// <summary>
/// Build-time options of one query head's attention-aware key graph (RetrievalAttention over a RoarGraph
/// projection). Search-time settings live in <see cref="AttentionSearchParameters"/>.
/// </summary>
public sealed record AttentionIndexOptions
{
    public const int DefaultTrainingNeighbors = 64;
    public const int DefaultConnectivity = 48;
    public const int DefaultBuildBeamWidth = 16;
    public const double DefaultTrainingSampleRate = 0.1;
    public const int DefaultAppendFoldBatch = 512;
    public const int DefaultPivotsPerQuery = 0;
    public const int DefaultMaxQueriesPerPivot = 64;
    public const int DefaultEntryPoints = 1;
    public const int DefaultRecentQueries = 64;
    public const int DefaultRecentQueryListLength = 32;

    /// <summary>k_train: how many exact top keys of each training (prefill) query feed the projection.</summary>
    public int TrainingNeighbors { get; init; } = DefaultTrainingNeighbors;

    /// <summary>M: the out-degree bound of every key in the graph.</summary>
    /// <remarks>
    /// The default is the M that reaches a given recall at the lowest search latency on real attention keys: a
    /// smaller M needs a much wider beam for the same recall, a larger one builds a little slower and its list
    /// spans one more cache line. Measurements: docs/BENCHMARKS.md, "Attention-aware KV index".
    /// </remarks>
    public int Connectivity { get; init; } = DefaultConnectivity;

    /// <summary>
    /// How many of each training query's top keys act as pivots linked to the query's other top keys. RoarGraph
    /// uses 1 (the query's best key only); 0 means all k_train, which on out-of-distribution attention queries
    /// gives every key a query-guided neighbourhood: higher recall with fewer keys scored than a few pivots per
    /// query (measured in docs/BENCHMARKS.md).
    /// </summary>
    public int PivotsPerQuery { get; init; } = DefaultPivotsPerQuery;

    /// <summary>Training queries a pivot's candidate list is gathered from at most (a stride sample beyond that).</summary>
    public int MaxQueriesPerPivot { get; init; } = DefaultMaxQueriesPerPivot;

    /// <summary>
    /// Entry points every search starts from: the key most often ranked first by the training queries, plus the
    /// best keys of training queries spread evenly over the prefill. One gives the best recall: several starts split
    /// the beam over regions, and starting from whichever of several such hubs scores the query highest is worse
    /// still (measured in docs/BENCHMARKS.md).</summary>
    public int EntryPoints { get; init; } = DefaultEntryPoints;

    /// <summary>Fill the slots the RNG rule leaves free with the best occluded candidates (RoarGraph's fill pass).</summary>
    public bool FillPrunedSlots { get; init; } = true;

    /// <summary>Beam width (ef) of the searches the builder itself runs: connectivity repair and folding appended keys.</summary>
    public int BuildBeamWidth { get; init; } = DefaultBuildBeamWidth;

    /// <summary>Fraction of the prefill queries used for training, in (0, 1]; taken at a uniform stride over positions.</summary>
    public double TrainingSampleRate { get; init; } = DefaultTrainingSampleRate;

    /// <summary>
    /// Buffered mode: appended keys are searched exactly from a small buffer until this many have accumulated,
    /// then folded into the graph in one batch (so a decode step never pays for a graph insert). Query-guided
    /// mode: a connectivity repair runs after this many insertions.
    /// </summary>
    public int AppendFoldBatch { get; init; } = DefaultAppendFoldBatch;

    /// <summary>
    /// How appended keys join the graph: <see cref="AppendMode.QueryGuided"/> inserts each at once, linked through
    /// its own neighbours and the lists of recent decode queries it enters; <see cref="AppendMode.Buffered"/> keeps
    /// them in an exact buffer and folds them in batches of <see cref="AppendFoldBatch"/>.
    /// </summary>
    /// <remarks>
    /// Both modes reach about the same recall after many appends; buffered appends are cheap except for the
    /// periodic fold, query-guided ones pay a little on every append plus a periodic repair (measured in
    /// docs/BENCHMARKS.md). Buffered stays the default because it needs no decode queries: query-guided insertion
    /// only helps a caller that reports each step's queries (<see cref="AttentionHeadIndex.ObserveQuery"/>).
    /// </remarks>
    public AppendMode AppendMode { get; init; } = AppendMode.Buffered;

    /// <summary>Decode queries remembered per head for query-guided insertion (see <see cref="AttentionHeadIndex.ObserveQuery"/>).</summary>
    public int RecentQueries { get; init; } = DefaultRecentQueries;

    /// <summary>Top keys remembered per recent decode query.</summary>
    public int RecentQueryListLength { get; init; } = DefaultRecentQueryListLength;

    /// <summary>Worker threads for the build (0 = all cores).</summary>
    public int Threads { get; init; }

    public static AttentionIndexOptions Default { get; } = new();

    /// <summary>Throws <see cref="RetrievalException"/> (InvalidInput) naming the first bad option.</summary>
    public AttentionIndexOptions Validate()
    {
        if (TrainingNeighbors < 2)
            Guard.ThrowInvalid($"TrainingNeighbors (k_train) must be >= 2 (the pivot plus at least one neighbour), got {TrainingNeighbors}");
        if (Connectivity < 2 || Connectivity > 1024)
            Guard.ThrowInvalid($"Connectivity (M) must be in [2, 1024], got {Connectivity}");
        if (BuildBeamWidth < 1)
            Guard.ThrowInvalid($"BuildBeamWidth must be >= 1, got {BuildBeamWidth}");
        if (!(TrainingSampleRate > 0 && TrainingSampleRate <= 1))
            Guard.ThrowInvalid($"TrainingSampleRate must be in (0, 1], got {TrainingSampleRate}");
        if (AppendFoldBatch < 1)
            Guard.ThrowInvalid($"AppendFoldBatch must be >= 1, got {AppendFoldBatch}");
        if (PivotsPerQuery < 0)
            Guard.ThrowInvalid($"PivotsPerQuery must be >= 0 (0 = all k_train keys of a query), got {PivotsPerQuery}");
        if (EntryPoints < 1 || EntryPoints > 4096)
            Guard.ThrowInvalid($"EntryPoints must be in [1, 4096], got {EntryPoints}");
        if (MaxQueriesPerPivot < 1)
            Guard.ThrowInvalid($"MaxQueriesPerPivot must be >= 1, got {MaxQueriesPerPivot}");
        if (RecentQueries < 1 || RecentQueries > 4096)
            Guard.ThrowInvalid($"RecentQueries must be in [1, 4096], got {RecentQueries}");
        if (RecentQueryListLength < 1 || RecentQueryListLength > 1024)
            Guard.ThrowInvalid($"RecentQueryListLength must be in [1, 1024], got {RecentQueryListLength}");
        if (!Enum.IsDefined(AppendMode))
            Guard.ThrowInvalid($"AppendMode {(int)AppendMode} is not a known mode");
        if (Threads < 0)
            Guard.ThrowInvalid($"Threads must be >= 0 (0 = all cores), got {Threads}");
        return this;
    }

    internal int EffectiveThreads => Threads == 0 ? Environment.ProcessorCount : Threads;
}

/// <summary>How keys appended after the build become part of a head's graph.</summary>
public enum AppendMode
{
    /// <summary>Each key is inserted into the graph at once, guided by recent decode queries.</summary>
    QueryGuided,

    /// <summary>Keys sit in an exact buffer merged into every search, folded into the graph in batches.</summary>
    Buffered,
}
