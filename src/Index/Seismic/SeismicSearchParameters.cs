using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Seismic;

/// <summary>Query-time parameters of a <see cref="SeismicIndex"/> search, passed per call (build-time knobs are <see cref="SeismicBuildOptions"/>).</summary>
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
    /// Makes the heap test stricter for lighter query terms: the list at position c of the cut (0 = the heaviest
    /// query term) skips blocks below HeapFactor x (1 + HeapFactorGrowth x c) times the k-th best score. A top
    /// document almost always holds the query's heaviest terms, so by the time the lighter terms' lists come up most
    /// of what their blocks add is already in the heap, and a small growth reaches a given recall scoring fewer
    /// documents than any plain heap factor (measured: docs/BENCHMARKS.md, Seismic). 0 (the default) is the paper's rule.
    /// </summary>
    public float HeapFactorGrowth { get; init; }

    /// <summary>The heap factor of the list at position <paramref name="cutPosition"/> of the query cut.</summary>
    public float HeapFactorAt(int cutPosition) => HeapFactor * (1f + HeapFactorGrowth * cutPosition);

    /// <summary>The order in which blocks that may pass the heap test are visited (see <see cref="SeismicBlockOrder"/>).</summary>
    public SeismicBlockOrder BlockOrder { get; init; } = DefaultBlockOrder;

    public const SeismicBlockOrder DefaultBlockOrder = SeismicBlockOrder.ListOrder;

    /// <summary>
    /// After the block walk, score the unvisited kNN-graph neighbours of the heap's documents and offer them to the
    /// heap (CIKM 2024 refinement). Acts only on an index built with <see cref="SeismicBuildOptions.KnnNeighbours"/> > 0.
    /// </summary>
    public bool KnnRefine { get; init; } = true;

    /// <summary>
    /// Refinement expands at most this many of each heap document's stored neighbours (the best first; 0 = all kappa),
    /// so one graph serves any smaller kappa.
    /// </summary>
    public int KnnExpand { get; init; }

    /// <summary>Measure time spent scoring summaries vs documents (two timestamps per visited list; off by default).</summary>
    public bool CollectTimings { get; init; }

    /// <summary>The CLI name of a block order: list, list-best-first or global.</summary>
    public static string BlockOrderName(SeismicBlockOrder order) => order switch
    {
        SeismicBlockOrder.ListOrder => "list",
        SeismicBlockOrder.ListBestFirst => "list-best-first",
        SeismicBlockOrder.GlobalBestFirst => "global",
        _ => ((int)order).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Parses a block order name (see <see cref="BlockOrderName"/>); InvalidInput naming the choices otherwise.</summary>
    public static SeismicBlockOrder ParseBlockOrder(string name) => name.Trim().ToLowerInvariant() switch
    {
        "list" => SeismicBlockOrder.ListOrder,
        "list-best-first" => SeismicBlockOrder.ListBestFirst,
        "global" => SeismicBlockOrder.GlobalBestFirst,
        _ => throw new Errors.RetrievalException(Errors.ErrorKind.InvalidInput,
            $"'{name}' is not a block order: expected list, list-best-first or global"),
    };

    public void Validate()
    {
        // Checked first without building a message: searches validate their parameters on every call.
        bool valid = QueryCut >= 1 && HeapFactor >= 0 && !float.IsInfinity(HeapFactor)
            && HeapFactorGrowth >= 0 && !float.IsInfinity(HeapFactorGrowth) && KnnExpand >= 0 && Enum.IsDefined(BlockOrder);
        if (valid) return;
        var problems = new StringBuilder();
        if (QueryCut < 1) problems.Append($"QueryCut must be >= 1, got {QueryCut}");
        if (!(HeapFactor >= 0) || float.IsInfinity(HeapFactor))
            problems.Append(problems.Length > 0 ? "; " : "").Append($"HeapFactor must be a finite number >= 0, got {HeapFactor}");
        if (!(HeapFactorGrowth >= 0) || float.IsInfinity(HeapFactorGrowth))
            problems.Append(problems.Length > 0 ? "; " : "").Append($"HeapFactorGrowth must be a finite number >= 0, got {HeapFactorGrowth}");
        if (KnnExpand < 0)
            problems.Append(problems.Length > 0 ? "; " : "").Append($"KnnExpand must be >= 0 (0 = every stored neighbour), got {KnnExpand}");
        if (!Enum.IsDefined(BlockOrder))
            problems.Append(problems.Length > 0 ? "; " : "").Append($"BlockOrder {(int)BlockOrder} is not a defined block order");
        Guard.ThrowInvalid("invalid Seismic search parameters: " + problems);
    }
}

/// <summary>How a Seismic search walks the blocks of the visited lists.</summary>
public enum SeismicBlockOrder
{
    /// <summary>List by list (heaviest query term first), each list's blocks in stored order (the paper's order).</summary>
    ListOrder,
    /// <summary>
    /// List by list, each list's blocks by descending summary score: the first block below the bar ends the list.
    /// </summary>
    ListBestFirst,
    /// <summary>
    /// The summaries of every visited list are scored first, then all their blocks are visited in one descending
    /// summary-score order across lists, stopping at the first block below the bar. The heap fills with the strongest
    /// documents of any list first, so its bar is higher when the weaker blocks of every list come up.
    /// </summary>
    GlobalBestFirst,
}
