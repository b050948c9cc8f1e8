using Retrieval.Query.Engine;

namespace Retrieval.Bench.Benchmarks.Engine;

/// <summary>Settings of <see cref="EngineBenchmark"/>; everything the engine decides (seal size, index kind and knobs, compaction) stays at its defaults.</summary>
public sealed record EngineBenchmarkOptions
{
    /// <summary>A dense dataset name or directory (resolved through the dataset locator) with base vectors and queries.</summary>
    public required string Dataset { get; init; }
    /// <summary>Embedded: the engine's data directory (null: a fresh folder under the temp directory, deleted afterwards).</summary>
    public string? DataDirectory { get; init; }
    /// <summary>Run against this server (http://host:port) through the typed client instead of an embedded engine.</summary>
    public string? Server { get; init; }
    public string? ApiKey { get; init; }
    /// <summary>Server mode: the server's process id, so its resident memory is sampled from /proc (null: not reported).</summary>
    public int? ServerProcessId { get; init; }
    /// <summary>Server mode: the server's data directory, so its size is reported (null: not reported).</summary>
    public string? ServerDataDirectory { get; init; }
    /// <summary>Embedded engine settings (null: <see cref="EngineOptions.Default"/>); tests use smaller ones.</summary>
    public EngineOptions? Engine { get; init; }
    public string Collection { get; init; } = "bench";
    /// <summary>Records per upsert (and per delete) call.</summary>
    public int Batch { get; init; } = 1000;
    public int K { get; init; } = 10;
    /// <summary>Queries searched per phase (the first N; null: all).</summary>
    public int? MaxQueries { get; init; }
    /// <summary>Base rows ingested (the first N; null: all). Ground truth is always computed exactly over what is ingested.</summary>
    public int? MaxRows { get; init; }
    /// <summary>Concurrent searching clients for the extra throughput line (1: only the single-client line).</summary>
    public int Clients { get; init; } = 1;
    /// <summary>Update rounds after the first search.</summary>
    public int Updates { get; init; }
    /// <summary>Fraction of the live rows deleted (and as many inserted) per update round, in (0, 1).</summary>
    public double UpdateFraction { get; init; } = 0.1;
    public int Seed { get; init; } = 1;
    /// <summary>Longest wait for background_jobs to reach 0 after a phase's writes.</summary>
    public TimeSpan SettleTimeout { get; init; } = TimeSpan.FromMinutes(30);
}
