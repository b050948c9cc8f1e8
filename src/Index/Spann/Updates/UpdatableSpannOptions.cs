using Retrieval.Index.Errors;

namespace Retrieval.Index.Spann;

/// <summary>
/// Parameters of an <see cref="UpdatableSpannIndex"/> (SPFresh's update knobs, SPTAG's names in the comments).
/// A null value means "what the build used" (read from the index's manifest).
/// </summary>
public sealed record UpdatableSpannOptions
{
    /// <summary>SPTAG's MergeThreshold: a posting with at most this many live vectors merges into its nearest head's.</summary>
    public const int DefaultMergeThreshold = 10;
    /// <summary>ReassignK: nearby postings checked after a split (0 in SPTAG's code, 64 in the paper's runs).</summary>
    public const int DefaultReassignK = 64;
    /// <summary>InternalResultNum: candidate heads among which a new vector's replicas are chosen.</summary>
    public const int DefaultHeadCandidates = 64;

    /// <summary>Most postings one vector is written to (R); null = the build's replica count.</summary>
    public int? ReplicaCount { get; init; }

    /// <summary>Posting page limit (SPTAG's PostingPageLimit); null = the build's posting pages.</summary>
    public int? PostingPages { get; init; }

    /// <summary>Closure rule eps1 and RNG factor; null = the build's.</summary>
    public double? ClosureEpsilon { get; init; }
    public double? RngFactor { get; init; }

    public int HeadCandidates { get; init; } = DefaultHeadCandidates;
    public int MergeThreshold { get; init; } = DefaultMergeThreshold;
    public int ReassignK { get; init; } = DefaultReassignK;

    /// <summary>Threads of the background rebuilder (split, merge, reassign, graph rebuild jobs).</summary>
    public int BackgroundThreads { get; init; } = 1;

    /// <summary>
    /// Heads added since the navigation graph was built are searched exactly beside it; when there are more than
    /// this fraction of the graph's nodes (and at least 64), the rebuilder builds a new graph over all heads.
    /// </summary>
    public double GraphRebuildFraction { get; init; } = 0.1;

    /// <summary>Hash every posting on open (postings.bin against the manifest, side postings against the snapshot).</summary>
    public bool VerifyChecksums { get; init; } = true;

    /// <summary>Whether a search that scans a nearly empty posting queues its merge (SPFresh's trigger); tests turn it off for determinism.</summary>
    internal bool MergeOnSearch { get; init; } = true;

    public void Validate()
    {
        var problems = new List<string>();
        if (ReplicaCount is < 1 or > 64) problems.Add($"replica count must be in 1..64, got {ReplicaCount}");
        if (PostingPages is < 1 or > 4096) problems.Add($"posting pages must be in 1..4096, got {PostingPages}");
        if (ClosureEpsilon is double e && (!(e >= 0) || double.IsInfinity(e))) problems.Add($"closure epsilon must be finite and >= 0, got {e}");
        if (RngFactor is double r && (!(r > 0) || double.IsInfinity(r))) problems.Add($"RNG factor must be finite and > 0, got {r}");
        if (HeadCandidates < 1 || HeadCandidates > 1024) problems.Add($"head candidates must be in 1..1024, got {HeadCandidates}");
        if (MergeThreshold < 0) problems.Add($"merge threshold must be >= 0, got {MergeThreshold}");
        if (ReassignK < 0) problems.Add($"reassign K must be >= 0, got {ReassignK}");
        if (BackgroundThreads < 1 || BackgroundThreads > 16) problems.Add($"background threads must be in 1..16, got {BackgroundThreads}");
        if (!(GraphRebuildFraction > 0) || double.IsInfinity(GraphRebuildFraction)) problems.Add($"graph rebuild fraction must be finite and > 0, got {GraphRebuildFraction}");
        if (problems.Count > 0) Guard.ThrowInvalid("invalid updatable SPANN options: " + string.Join("; ", problems));
    }
}

/// <summary>Counters of an <see cref="UpdatableSpannIndex"/> since it was opened.</summary>
public sealed record UpdateStatistics
{
    public long Inserts { get; init; }
    public long Deletes { get; init; }
    public long Splits { get; init; }
    public long Merges { get; init; }
    /// <summary>Postings rewritten only to drop stale and deleted entries (a split that garbage collection made unnecessary).</summary>
    public long GarbageCollections { get; init; }
    /// <summary>Vectors the LIRE reassign step checked with its two conditions, and those it moved.</summary>
    public long ReassignChecked { get; init; }
    public long ReassignedVectors { get; init; }
    /// <summary>Moves skipped because another update bumped the vector's version first (the compare-and-swap lost).</summary>
    public long ReassignConflicts { get; init; }
    public long GraphRebuilds { get; init; }
    public int PendingJobs { get; init; }
    /// <summary>Posting bytes written to the side data file by checkpoints.</summary>
    public long PostingBytesWritten { get; init; }
    public int Checkpoints { get; init; }
}
