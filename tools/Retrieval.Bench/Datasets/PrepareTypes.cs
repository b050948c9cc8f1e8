namespace Retrieval.Bench.Datasets;

/// <summary>
/// Progress of a recipe: the stage it is in ("download wordnet-base", "embed passages", ...) and how far it is.
/// <see cref="Total"/> is 0 when the stage cannot say in advance; <see cref="Unit"/> names what is counted.
/// </summary>
public readonly record struct PrepareProgress(string Stage, long Done, long Total, string Unit = "items", string? Detail = null)
{
    public double? Fraction => Total > 0 ? (double)Done / Total : null;
}

/// <summary>Choices a caller may make about how a set is prepared; the defaults suit `retrieval datasets prepare`.</summary>
public sealed record PrepareOptions
{
    /// <summary>Rebuild even when the output folder already holds a complete set.</summary>
    public bool Overwrite { get; init; }

    /// <summary>fashion-mnist: compute the exact ground truth even when a shipped copy can be copied.</summary>
    public bool ComputeGroundTruth { get; init; }

    /// <summary>
    /// minilm-passages: embed only the first this-many passages (default 160,000, the catalog's set) for a smaller,
    /// quicker set; the manifest records the count used.
    /// </summary>
    public int? EmbedCount { get; init; }

    /// <summary>
    /// minilm-2m: base rows (default 2,000,000). Fewer keeps a seeded random sample of the full set's rows (the
    /// calibration uses 160,000); more extends the synthetic rows.
    /// </summary>
    public int? Rows { get; init; }

    /// <summary>minilm-2m: per-coordinate standard deviation of the tangent noise (default: the calibrated value).</summary>
    public double? Sigma { get; init; }

    /// <summary>minilm-2m: seed for parents, noise and the row sample (default fixed).</summary>
    public ulong? Seed { get; init; }

    /// <summary>minilm-2m: how many of minilm-passages' held-out queries to keep, from the first (default 1,000).</summary>
    public int? QueryCount { get; init; }

    /// <summary>Threads for exact search and embedding; 0 = all cores.</summary>
    public int Threads { get; init; }

    /// <summary>Install missing Debian packages (fashion-mnist) when running as root.</summary>
    public bool InstallPackages { get; init; } = true;

    /// <summary>Where downloads and unpacked packages go; default: a temporary folder removed afterwards.</summary>
    public string? ScratchDirectory { get; init; }

    /// <summary>Where copy recipes and minilm-passages look for existing sets; default: the process's locator.</summary>
    public DatasetLocator? Locator { get; init; }
}

/// <summary>What a recipe produced.</summary>
public sealed record PrepareResult(string Name, string Directory, string ManifestPath, IReadOnlyList<string> Notes, TimeSpan Elapsed);
