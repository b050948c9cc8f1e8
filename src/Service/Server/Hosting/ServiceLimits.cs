using Retrieval.Index.Errors;

namespace Retrieval.Service.Hosting;

/// <summary>Per-request limits; a request over one gets RESOURCE_EXHAUSTED naming the field and the limit.</summary>
public sealed record ServiceLimits
{
    public static readonly ServiceLimits Default = new();

    /// <summary>Largest gRPC message received or sent (default 16 MiB; larger messages are refused by gRPC itself).</summary>
    public int MaxMessageBytes { get; init; } = 16 * 1024 * 1024;
    /// <summary>Largest k, and hybrid candidate count (default 1000).</summary>
    public int MaxK { get; init; } = 1000;
    /// <summary>Most records per upsert, ids per delete/get and queries per batch search (default 1000).</summary>
    public int MaxBatch { get; init; } = 1000;
    /// <summary>Largest dense dimension a collection may have (default 4096).</summary>
    public int MaxDimension { get; init; } = 4096;
    /// <summary>Longest text in a record or query, in characters (default 100,000).</summary>
    public int MaxTextChars { get; init; } = 100_000;
    /// <summary>Bytes all KV-cache sequences together may hold (keys, values, graphs; default 8 GiB).</summary>
    public long KvMemoryLimitBytes { get; init; } = 8L << 30;

    public void Validate()
    {
        if (MaxMessageBytes < 1024) Guard.ThrowInvalid($"MaxMessageBytes must be >= 1024, got {MaxMessageBytes}");
        if (MaxK < 1 || MaxK > Query.Engine.RetrievalEngine.MaxK) Guard.ThrowInvalid($"MaxK must be in [1, {Query.Engine.RetrievalEngine.MaxK}], got {MaxK}");
        if (MaxBatch < 1) Guard.ThrowInvalid($"MaxBatch must be >= 1, got {MaxBatch}");
        if (MaxDimension < 1 || MaxDimension > Query.Engine.CollectionSchema.MaxDimension)
            Guard.ThrowInvalid($"MaxDimension must be in [1, {Query.Engine.CollectionSchema.MaxDimension}], got {MaxDimension}");
        if (MaxTextChars < 1) Guard.ThrowInvalid($"MaxTextChars must be >= 1, got {MaxTextChars}");
        if (KvMemoryLimitBytes < 0) Guard.ThrowInvalid($"KvMemoryLimitBytes must be >= 0, got {KvMemoryLimitBytes}");
    }

    internal void CheckBatch(int count, string field)
    {
        if (count > MaxBatch)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"{field} has {count} entries, the server's max_batch is {MaxBatch}");
    }

    internal void CheckText(string text, string field)
    {
        if (text.Length > MaxTextChars)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"{field} has {text.Length} characters, the server's limit is {MaxTextChars}");
    }
}
