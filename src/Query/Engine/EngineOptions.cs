using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// Sizes and policies of an engine. FASTER's own defaults assume a 16 GB in-memory log; every size here is explicit
/// and small by default (tens of MiB), and the record store spills to disk beyond its memory budget.
/// </summary>
public sealed record EngineOptions
{
    public static readonly EngineOptions Default = new();

    /// <summary>Record store in-memory log: 2^bits bytes (default 2^25 = 32 MiB).</summary>
    public int StoreMemoryBits { get; init; } = 25;
    /// <summary>Record store page: 2^bits bytes (default 2^20 = 1 MiB); one record must fit in a page.</summary>
    public int StorePageBits { get; init; } = 20;
    /// <summary>Record store disk segment files: 2^bits bytes (default 2^28 = 256 MiB).</summary>
    public int StoreSegmentBits { get; init; } = 28;
    /// <summary>Record store hash index buckets (64 bytes each; default 2^16 = 4 MiB).</summary>
    public long StoreIndexBuckets { get; init; } = 1L << 16;
    /// <summary>Write-ahead log page: 2^bits bytes (default 2^22 = 4 MiB); caps one log entry.</summary>
    public int LogPageBits { get; init; } = 22;
    /// <summary>Write-ahead log in-memory buffer: 2^bits bytes (default 2^24 = 16 MiB).</summary>
    public int LogMemoryBits { get; init; } = 24;
    /// <summary>Write-ahead log disk segment files: 2^bits bytes (default 2^28 = 256 MiB).</summary>
    public int LogSegmentBits { get; init; } = 28;
    /// <summary>Payloads at least this long are LZ4-compressed when that makes them smaller (default 256 bytes).</summary>
    public int CompressPayloadBytes { get; init; } = 256;
    /// <summary>Largest payload accepted (default 256 KiB).</summary>
    public int MaxPayloadBytes { get; init; } = 256 * 1024;
    /// <summary>Rows the mutable segment takes before it is sealed into an immutable segment, indexed as the schema says (default 8192).</summary>
    public int SealRows { get; init; } = 8192;
    /// <summary>Time between background checkpoints; zero disables them (default 60 s).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Whether <see cref="RetrievalEngine.DisposeAsync"/> checkpoints first (default true; tests turn it off to exercise log replay).</summary>
    public bool CheckpointOnClose { get; init; } = true;
    /// <summary>Compact a collection in the background when its sealed segments' tombstones pass this fraction of their rows (default 0.25)...</summary>
    public double CompactTombstoneFraction { get; init; } = 0.25;
    /// <summary>...and number at least this many (default 1024), so a few deletes in a small collection do not rebuild it.</summary>
    public int CompactMinTombstones { get; init; } = 1024;
    /// <summary>Also compact when a collection has more sealed (non-attached) segments than this (default 8).</summary>
    public int CompactMaxSegments { get; init; } = 8;
    /// <summary>Whether the two policies above run by themselves (default true); <see cref="RetrievalEngine.CompactAsync"/> works either way.</summary>
    public bool AutoCompact { get; init; } = true;
    /// <summary>
    /// At each checkpoint, compact the record store's log when it spans more than 2^bits bytes (default 2^27 =
    /// 128 MiB): live records in its older half are copied forward so overwritten and deleted versions can be
    /// dropped from disk.
    /// </summary>
    public int StoreCompactBits { get; init; } = 27;
    /// <summary>
    /// Grow dense collections in place: the first sealed segment's SPANN index takes inserts and deletes (SPFresh:
    /// split, merge, reassign in the background), later sealed segments are absorbed into it, and no automatic
    /// compaction rebuilds it. Off by default for now: `retrieval crashtest --iterations 25` found searches for a
    /// record's own vector missing it after restarts once collections pass ~27,000 rows, and a background job failing
    /// with a NullReferenceException after a reopen without checkpoint (not yet diagnosed); the rebuild policy (merge
    /// sealed segments into a new build) passes both.
    /// </summary>
    public bool InPlaceUpdates { get; init; }
    /// <summary>Threads the text encoders use per call (0 = all cores).</summary>
    public int EncoderThreads { get; init; }
    /// <summary>
    /// The process's memory cap in bytes (0 = none, the default). Writes are refused with ResourceExhausted once
    /// resident memory passes 90% of it (<see cref="MemoryBudget"/>); <see cref="WithMemoryLimit"/> also sizes the
    /// record store and log buffers to fit. The server passes `serve --memory-limit` here.
    /// </summary>
    public long MemoryLimitBytes { get; init; }
    /// <summary>Smallest cap accepted: the runtime, the buffers and one segment build need about this much.</summary>
    public const long MinMemoryLimitBytes = 128L << 20;

    /// <summary>
    /// These options under a memory cap of <paramref name="bytes"/>: the record store's in-memory log gets about
    /// 1/32 of it and the write-ahead log buffer 1/64 (never more than the defaults), since the segments' heads,
    /// graphs and the mutable rows need the rest.
    /// </summary>
    public EngineOptions WithMemoryLimit(long bytes)
    {
        if (bytes <= 0) return this with { MemoryLimitBytes = 0 };
        int storeBits = Math.Clamp(FloorLog2(bytes / 32), StorePageBits + 1, StoreMemoryBits);
        int logBits = Math.Clamp(FloorLog2(bytes / 64), LogPageBits + 1, LogMemoryBits);
        return this with { MemoryLimitBytes = bytes, StoreMemoryBits = storeBits, LogMemoryBits = logBits };
    }

    private static int FloorLog2(long value) => value <= 1 ? 0 : 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)value);

    /// <summary>Where the engine reports what an operator should see but no caller waits for (a failed background index build); null drops it.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Largest encoded log entry: half a log page, leaving room for FASTER's headers.</summary>
    internal int MaxEntryBytes => 1 << (LogPageBits - 1);

    public void Validate()
    {
        if (StorePageBits < 12 || StorePageBits > 30) Guard.ThrowInvalid($"StorePageBits must be in [12, 30], got {StorePageBits}");
        if (StoreMemoryBits < StorePageBits + 1 || StoreMemoryBits > 40) Guard.ThrowInvalid($"StoreMemoryBits must be in [StorePageBits+1, 40], got {StoreMemoryBits}");
        if (StoreSegmentBits < StorePageBits || StoreSegmentBits > 40) Guard.ThrowInvalid($"StoreSegmentBits must be in [StorePageBits, 40], got {StoreSegmentBits}");
        if (StoreIndexBuckets < 64 || (StoreIndexBuckets & (StoreIndexBuckets - 1)) != 0) Guard.ThrowInvalid($"StoreIndexBuckets must be a power of two >= 64, got {StoreIndexBuckets}");
        if (LogPageBits < 16 || LogPageBits > 30) Guard.ThrowInvalid($"LogPageBits must be in [16, 30], got {LogPageBits}");
        if (LogMemoryBits < LogPageBits + 1 || LogMemoryBits > 40) Guard.ThrowInvalid($"LogMemoryBits must be in [LogPageBits+1, 40], got {LogMemoryBits}");
        if (LogSegmentBits < LogPageBits || LogSegmentBits > 40) Guard.ThrowInvalid($"LogSegmentBits must be in [LogPageBits, 40], got {LogSegmentBits}");
        if (CompressPayloadBytes < 0) Guard.ThrowInvalid($"CompressPayloadBytes must be >= 0, got {CompressPayloadBytes}");
        if (MaxPayloadBytes < 0 || MaxPayloadBytes > (1 << (StorePageBits - 1)) - 65536)
            Guard.ThrowInvalid($"MaxPayloadBytes must be in [0, half a store page less 64 KiB], got {MaxPayloadBytes}");
        if (SealRows < 1) Guard.ThrowInvalid($"SealRows must be >= 1, got {SealRows}");
        if (CheckpointInterval < TimeSpan.Zero) Guard.ThrowInvalid("CheckpointInterval must not be negative");
        if (!(CompactTombstoneFraction >= 0 && CompactTombstoneFraction <= 1)) Guard.ThrowInvalid($"CompactTombstoneFraction must be in [0, 1], got {CompactTombstoneFraction}");
        if (CompactMinTombstones < 1) Guard.ThrowInvalid($"CompactMinTombstones must be >= 1, got {CompactMinTombstones}");
        if (CompactMaxSegments < 1) Guard.ThrowInvalid($"CompactMaxSegments must be >= 1, got {CompactMaxSegments}");
        if (StoreCompactBits < StorePageBits || StoreCompactBits > 50) Guard.ThrowInvalid($"StoreCompactBits must be in [StorePageBits, 50], got {StoreCompactBits}");
        if (MemoryLimitBytes < 0 || MemoryLimitBytes > 0 && MemoryLimitBytes < MinMemoryLimitBytes)
            Guard.ThrowInvalid($"MemoryLimitBytes must be 0 (no cap) or at least {MinMemoryLimitBytes >> 20} MiB, got {MemoryLimitBytes}");
        if (EncoderThreads < 0) Guard.ThrowInvalid($"EncoderThreads must be >= 0, got {EncoderThreads}");
    }
}
