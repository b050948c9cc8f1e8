using Retrieval.Index.Attention;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Attention;

/// <summary>
/// The attention geometry of one sequence: layers, query heads and KV heads per layer (GQA when fewer KV heads
/// than query heads: query head h reads KV head h / (QueryHeadCount / KvHeadCount)), and the head dimension.
/// </summary>
public sealed record KvSequenceShape(int LayerCount, int QueryHeadCount, int KvHeadCount, int HeadDimension)
{
    public int QueryHeadsPerKvHead => QueryHeadCount / KvHeadCount;

    /// <summary>
    /// S: attention-sink positions [0, S) the caller attends to exactly; a service applies it to every search of
    /// the sequence (the embedded API takes it per call in <see cref="AttentionSearchParameters"/>).
    /// </summary>
    public int SinkTokens { get; init; }

    /// <summary>W: the most recent W positions the caller attends to exactly (see <see cref="SinkTokens"/>).</summary>
    public int WindowTokens { get; init; }

    public int KvHeadOf(int queryHead) => queryHead / QueryHeadsPerKvHead;

    public KvSequenceShape Validate()
    {
        if (LayerCount < 1) Guard.ThrowInvalid($"LayerCount must be >= 1, got {LayerCount}");
        if (QueryHeadCount < 1) Guard.ThrowInvalid($"QueryHeadCount must be >= 1, got {QueryHeadCount}");
        if (KvHeadCount < 1) Guard.ThrowInvalid($"KvHeadCount must be >= 1, got {KvHeadCount}");
        if (QueryHeadCount % KvHeadCount != 0)
            Guard.ThrowInvalid($"QueryHeadCount {QueryHeadCount} must be a multiple of KvHeadCount {KvHeadCount} (grouped-query attention)");
        if (HeadDimension < 1) Guard.ThrowInvalid($"HeadDimension must be >= 1, got {HeadDimension}");
        if (SinkTokens < 0) Guard.ThrowInvalid($"SinkTokens (S) must be >= 0, got {SinkTokens}");
        if (WindowTokens < 0) Guard.ThrowInvalid($"WindowTokens (W) must be >= 0, got {WindowTokens}");
        return this;
    }
}

/// <summary>One query head of one layer.</summary>
public readonly record struct KvHeadRef(int Layer, int Head)
{
    public override string ToString() => $"(layer {Layer}, head {Head})";
}

/// <summary>Limits of a <see cref="KvCache"/>.</summary>
public sealed record KvCacheOptions
{
    /// <summary>Bytes all sequences together may hold (keys, values, graphs); exceeding it is ResourceExhausted.</summary>
    public long MemoryLimitBytes { get; init; } = long.MaxValue;

    /// <summary>Worker threads for batched search/attend and builds (0 = all cores).</summary>
    public int Threads { get; init; }

    public KvCacheOptions Validate()
    {
        if (MemoryLimitBytes < 0) Guard.ThrowInvalid($"MemoryLimitBytes must be >= 0, got {MemoryLimitBytes}");
        if (Threads < 0) Guard.ThrowInvalid($"Threads must be >= 0 (0 = all cores), got {Threads}");
        return this;
    }
}

/// <summary>
/// What <see cref="KvCache.Describe"/> reports: TokenCounts holds one entry per (layer, KV head), layer-major;
/// BuiltHeads counts query heads with an index.
/// </summary>
public sealed record KvSequenceInfo(long SequenceId, KvSequenceShape Shape, long MemoryBytes, int[] TokenCounts, int BuiltHeads);
