using Retrieval.Index.Spann;

namespace Retrieval.Bench.Benchmarks.Spann;

/// <summary>Settings of <see cref="SpannBenchmark"/>; the build knobs default to the index's own defaults.</summary>
public sealed record SpannBenchmarkOptions
{
    /// <summary>A dataset name or directory (resolved through the dataset locator) with base vectors, queries and ground truth.</summary>
    public required string Dataset { get; init; }
    /// <summary>SPANN index directory; built there first when it holds none (null: a folder under the temp directory).</summary>
    public string? IndexDirectory { get; init; }
    public bool Rebuild { get; init; }
    /// <summary>Posting storage when building; null follows the input precision (f16 for float16 and uint8 input, else f32).</summary>
    public SpannStorage? Storage { get; init; }
    public double HeadRatio { get; init; } = SpannBuildOptions.DefaultHeadRatio;
    public int ReplicaCount { get; init; } = SpannBuildOptions.DefaultReplicaCount;
    public double ClosureEpsilon { get; init; } = SpannBuildOptions.DefaultClosureEpsilon;
    public int PostingPages { get; init; } = SpannBuildOptions.DefaultPostingPages;
    /// <summary>Queries timed per line (the first N).</summary>
    public int MaxQueries { get; init; } = 1000;
    public int K { get; init; } = 10;
    /// <summary>SPANN head counts M swept.</summary>
    public IReadOnlyList<int> Heads { get; init; } = [4, 8, 16, 32, 48, 64, 96];
    /// <summary>Navigation beams swept at every M (0 = tied to M).</summary>
    public IReadOnlyList<int> Beams { get; init; } = [0];
    public double PruneEpsilon { get; init; } = SpannSearchParameters.DefaultPruneEpsilon;
    /// <summary>IVF-Flat probes swept.</summary>
    public IReadOnlyList<int> Probes { get; init; } = [4, 8, 16, 32, 64, 128];
    /// <summary>IVF-Flat list count (null: 4 sqrt(N)).</summary>
    public int? IvfLists { get; init; }
    /// <summary>USearch HNSW expansions swept.</summary>
    public IReadOnlyList<int> Expansions { get; init; } = [16, 32, 64, 128];
    /// <summary>Parts left out: exact, ivf, usearch, memory, direct.</summary>
    public IReadOnlySet<string> Skip { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
}
