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
    public static readonly SeismicSearchParameters Exhaustive = new() { QueryCut = int.MaxValue, HeapFactor = 0f };

    /// <summary>How many of the query's heaviest terms have their lists visited (paper: query_cut).</summary>
    public int QueryCut { get; init; } = DefaultQueryCut;

    /// <summary>
    /// A block is skipped when the heap holds k results and its summary score is below the k-th best score times
    /// HeapFactor (paper: heap_factor). Summaries pruned to alpha of their mass underestimate, so values below 1 keep
    /// blocks whose summary falls somewhat short of the heap; 1 skips every block whose summary cannot enter; larger
    /// skips more; 0 never skips.
    /// </summary>
    public float HeapFactor { get; init; } = DefaultHeapFactor;

    /// <summary>
    /// Visit each list's blocks in descending summary score instead of list order (Seismic's order). The heap fills
    /// with strong documents sooner, so more blocks are skipped, and the first block below the bar ends the list.
    /// </summary>
    public bool BlocksBestFirst { get; init; }

    /// <summary>Measure time spent scoring summaries vs documents (two timestamps per visited list; off by default).</summary>
    public bool CollectTimings { get; init; }

    public void Validate()
    {
        var problems = new StringBuilder();
        if (QueryCut < 1) problems.Append($"QueryCut must be >= 1, got {QueryCut}");
        if (!(HeapFactor >= 0) || float.IsInfinity(HeapFactor))
            problems.Append(problems.Length > 0 ? "; " : "").Append($"HeapFactor must be a finite number >= 0, got {HeapFactor}");
        if (problems.Length > 0) Guard.ThrowInvalid("invalid Seismic search parameters: " + problems);
    }
}
