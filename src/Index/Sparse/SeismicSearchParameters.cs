using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Sparse;

/// <summary>Query-time settings of a <see cref="SeismicIndex"/> search, passed per call.</summary>
public sealed record SeismicSearchParameters
{
    public const int DefaultQueryCut = 10;
    public const float DefaultHeapFactor = 0.7f;

    public static readonly SeismicSearchParameters Default = new();

    /// <summary>Never skip a block and visit every query term's list: with a lossless build this equals exact search.</summary>
    public static readonly SeismicSearchParameters Exhaustive = new() { QueryCut = int.MaxValue, HeapFactor = float.PositiveInfinity };

    /// <summary>How many of the query's heaviest terms have their lists visited (paper: query_cut).</summary>
    public int QueryCut { get; init; } = DefaultQueryCut;

    /// <summary>
    /// A block is skipped when the heap holds k results and summary_score x HeapFactor is below the k-th best score
    /// (paper: heap_factor). Smaller skips more; 1 skips only blocks whose summary says they cannot enter;
    /// +infinity never skips.
    /// </summary>
    public float HeapFactor { get; init; } = DefaultHeapFactor;

    /// <summary>Measure time spent scoring summaries vs documents (two timestamps per visited list; off by default).</summary>
    public bool CollectTimings { get; init; }

    public void Validate()
    {
        var problems = new StringBuilder();
        if (QueryCut < 1) problems.Append($"QueryCut must be >= 1, got {QueryCut}");
        if (!(HeapFactor > 0)) problems.Append(problems.Length > 0 ? "; " : "").Append($"HeapFactor must be > 0, got {HeapFactor}");
        if (problems.Length > 0) Guard.ThrowInvalid("invalid Seismic search parameters: " + problems);
    }
}
