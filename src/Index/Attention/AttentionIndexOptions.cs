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
    /// kv-minilm L0H11 at recall@100 0.953 (bench kv, back to back on a loaded machine): M 48 at ef 160 101-103 us
    /// mean (96-98 us thread CPU, 2.44% of keys scored), M 40 at ef 180 124-140 us (2.33%), M 32 at ef 220 122-137 us
    /// (2.30%); M 48 builds ~6% slower than M 32 (connectivity) and its lists take 3 cache lines instead of 2 (M 40
    /// is padded to the same 3 lines). M 24 needs ef 300 for 0.953 (148 us CPU); M 16 does not reach 0.93 by ef 300.
    /// </remarks>
    public int Connectivity { get; init; } = DefaultConnectivity;

    /// <summary>
    /// How many of each training query's top keys act as pivots linked to the query's other top keys. RoarGraph
    /// uses 1 (the query's best key only); 0 means all k_train, which on out-of-distribution attention queries
    /// gives every key a query-guided neighbourhood (kv-minilm L0H11: recall@100 0.95 at 2.4% of keys scored,
    /// against 0.94 at 3.7% with 4 pivots and 0.86 at 4% with 1).
    /// </summary>
    public int PivotsPerQuery { get; init; } = DefaultPivotsPerQuery;

    /// <summary>Training queries a pivot's candidate list is gathered from at most (a stride sample beyond that).</summary>
    public int MaxQueriesPerPivot { get; init; } = DefaultMaxQueriesPerPivot;

    /// <summary>
    /// Entry points every search starts from: the key most often ranked first by the training queries, plus the
    /// best keys of training queries spread evenly over the prefill. One is best on kv-minilm L0H11 (recall@100 at
    /// ef 200: 0.950 with 1, 0.944 with 8, 0.918 with 32): several starts split the beam over regions. Starting
    /// instead from whichever of 16 or 32 such hubs scores the query highest is worse still (0.906-0.917).</summary>
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
    /// kv-minilm L0H11, 10,000 appends, ef 200 (bench kv, loaded machine): query-guided recall@100 0.944 at 2.04% of
    /// keys scored, buffered 0.943 at 2.25%, full rebuild 0.952 at 2.00%; mean append 0.34 ms vs 0.47 ms amortised
    /// (the buffered p99 is 1.2 us but every 512th append folds for ~0.4 s; query-guided repairs for ~0.3 s every
    /// 512). Buffered stays the default because it needs no decode queries (<see cref="AttentionHeadIndex.ObserveQuery"/>)
    /// and the gRPC service does not send them yet.
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
