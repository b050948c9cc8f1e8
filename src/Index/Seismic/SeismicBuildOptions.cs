using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Seismic;

/// <summary>How each term's inverted list is statically pruned before blocking.</summary>
public enum PostingPruning
{
    /// <summary>Keep every posting (no static pruning): the setting used to check exactness.</summary>
    None,
    /// <summary>Keep the top <see cref="SeismicBuildOptions.Lambda"/> postings of every list by weight (the paper's lambda).</summary>
    FixedLambda,
    /// <summary>
    /// Keep the largest <see cref="SeismicBuildOptions.AvgPostings"/> x vocabulary postings over all lists, no list
    /// keeping more than <see cref="SeismicBuildOptions.MaxFraction"/> x AvgPostings (Seismic's global-threshold variant).
    /// </summary>
    GlobalBudget,
}

/// <summary>How the forward index stores document weights.</summary>
public enum ForwardValueStorage
{
    /// <summary>IEEE half precision: half the memory, about 3 significant digits (the default, as in Seismic).</summary>
    Float16,
    /// <summary>Full float32: scores equal exact search's to rounding.</summary>
    Float32,
}

/// <summary>
/// Build-time options of a <see cref="SeismicIndex"/> (query-time parameters live in <see cref="SeismicSearchParameters"/>).
/// Defaults follow the Seismic paper and its reference implementation.
/// </summary>
public sealed record SeismicBuildOptions
{
    public const PostingPruning DefaultPruning = PostingPruning.GlobalBudget;
    public const int DefaultLambda = 6000;
    public const double DefaultAvgPostings = 4000;
    public const double DefaultMaxFraction = 1.5;
    public const double DefaultCentroidFraction = 0.1;
    public const int DefaultMinClusterSize = 2;
    public const double DefaultMaxBlockFactor = 1.5;
    public const double DefaultSummaryEnergy = 0.4;
    public const int DefaultDocumentComponents = 8;
    public const int DefaultCentroidComponents = 16;
    public const int DefaultSeed = 42;
    /// <summary>Blocks of one list are addressed by a 16-bit local index inside the list's summaries.</summary>
    public const int MaxBlocksPerList = ushort.MaxValue;
    /// <summary>Upper bound of <see cref="KnnNeighbours"/>: refinement scores up to k x kappa rows, and the graph is 4 x kappa bytes per document.</summary>
    public const int MaxKnnNeighbours = 256;

    public static readonly SeismicBuildOptions Default = new();

    /// <summary>The options that keep every posting and every summary entry: search then equals exact search when HeapFactor is infinite.</summary>
    public static readonly SeismicBuildOptions Lossless = new()
    {
        Pruning = PostingPruning.None,
        SummaryEnergy = 1.0,
        Values = ForwardValueStorage.Float32,
    };

    public PostingPruning Pruning { get; init; } = DefaultPruning;

    /// <summary>Postings kept per list with <see cref="PostingPruning.FixedLambda"/> (paper: lambda).</summary>
    public int Lambda { get; init; } = DefaultLambda;

    /// <summary>Average postings kept per vocabulary term with <see cref="PostingPruning.GlobalBudget"/> (Seismic: n_postings).</summary>
    public double AvgPostings { get; init; } = DefaultAvgPostings;

    /// <summary>Per-list cap as a multiple of <see cref="AvgPostings"/> with <see cref="PostingPruning.GlobalBudget"/> (Seismic: max_fraction).</summary>
    public double MaxFraction { get; init; } = DefaultMaxFraction;

    /// <summary>Cluster centroids per list as a fraction of its length (paper: centroid_fraction); sets the mean block size to about 1/fraction.</summary>
    public double CentroidFraction { get; init; } = DefaultCentroidFraction;

    /// <summary>
    /// Clusters larger than this multiple of the mean block size (1 / CentroidFraction) are cut, by the list term's
    /// weight, into near-equal blocks no larger than it (a loose block's summary bounds many documents poorly).
    /// </summary>
    public double MaxBlockFactor { get; init; } = DefaultMaxBlockFactor;

    /// <summary>Clusters smaller than this are dissolved and their documents reassigned to the remaining centroids.</summary>
    public int MinClusterSize { get; init; } = DefaultMinClusterSize;

    /// <summary>Fraction of a block summary's L1 mass its pruned summary keeps (paper: alpha); 1 keeps every entry.</summary>
    public double SummaryEnergy { get; init; } = DefaultSummaryEnergy;

    /// <summary>
    /// At most this many entries per block summary after alpha pruning (0 = no cap), plus the list's own term when the cap cut it.
    /// Flat weightings (BM25) spread a block's mass over many terms, so alpha alone keeps ~50 entries per block.
    /// </summary>
    public int SummaryMaxEntries { get; init; }

    /// <summary>Forward-index value precision.</summary>
    public ForwardValueStorage Values { get; init; } = ForwardValueStorage.Float16;

    /// <summary>Forward-index row order: <see cref="ForwardRowOrder.BlockLocality"/> stores blocks' documents together.</summary>
    public ForwardRowOrder RowOrder { get; init; } = ForwardRowOrder.BlockLocality;

    /// <summary>Heaviest components of a document compared with centroids when clustering a list.</summary>
    public int DocumentComponents { get; init; } = DefaultDocumentComponents;

    /// <summary>Heaviest components of a centroid document indexed for the clustering pass.</summary>
    public int CentroidComponents { get; init; } = DefaultCentroidComponents;

    /// <summary>Seed of the centroid sampling; the same seed and input give a byte-identical index.</summary>
    public int Seed { get; init; } = DefaultSeed;

    /// <summary>
    /// Neighbours per document in the kNN graph (paper: kappa; 0 = no graph). The graph is built with the index itself,
    /// each document's vector searched as a query (see <see cref="KnnGraphBuilder"/>), and expanded at query time
    /// (<see cref="SeismicSearchParameters.KnnRefine"/>).
    /// </summary>
    public int KnnNeighbours { get; init; }

    public const int DefaultKnnBuildQueryCut = 10;
    public const float DefaultKnnBuildHeapFactor = 0.8f;

    /// <summary>
    /// query_cut of the searches that find each document's neighbours when <see cref="KnnNeighbours"/> > 0 (documents
    /// as queries have ~3x the terms of a user query). Cheaper graph searches (a lower cut, a higher heap factor) build
    /// the graph about twice as fast at a much lower graph recall, yet cost query recall only in the third decimal:
    /// refinement is not very sensitive to graph recall, since a neighbour that is not among the true top kappa is
    /// still a near one. The default keeps the better query recall (measured: docs/BENCHMARKS.md, Seismic).
    /// </summary>
    public int KnnBuildQueryCut { get; init; } = DefaultKnnBuildQueryCut;

    /// <summary>heap_factor of the graph-building searches (see <see cref="KnnBuildQueryCut"/>).</summary>
    public float KnnBuildHeapFactor { get; init; } = DefaultKnnBuildHeapFactor;

    /// <summary>Build threads (0 = all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Throws <see cref="RetrievalException"/> (InvalidInput) listing every out-of-range option.</summary>
    public void Validate()
    {
        var problems = new StringBuilder();
        void Problem(string text) => problems.Append(problems.Length == 0 ? "" : "; ").Append(text);
        if (!Enum.IsDefined(Pruning)) Problem($"Pruning {Pruning} is not a known strategy");
        if (Pruning == PostingPruning.FixedLambda && Lambda < 1) Problem($"Lambda must be >= 1, got {Lambda}");
        if (Pruning == PostingPruning.GlobalBudget)
        {
            if (!(AvgPostings >= 1) || double.IsInfinity(AvgPostings)) Problem($"AvgPostings must be a finite number >= 1, got {AvgPostings}");
            if (!(MaxFraction >= 1) || double.IsInfinity(MaxFraction)) Problem($"MaxFraction must be a finite number >= 1, got {MaxFraction}");
        }
        if (!(CentroidFraction > 0 && CentroidFraction <= 1)) Problem($"CentroidFraction must be in (0, 1], got {CentroidFraction}");
        if (!(MaxBlockFactor >= 1) || double.IsInfinity(MaxBlockFactor)) Problem($"MaxBlockFactor must be a finite number >= 1, got {MaxBlockFactor}");
        if (MinClusterSize < 1) Problem($"MinClusterSize must be >= 1, got {MinClusterSize}");
        if (!(SummaryEnergy > 0 && SummaryEnergy <= 1)) Problem($"SummaryEnergy (alpha) must be in (0, 1], got {SummaryEnergy}");
        if (SummaryMaxEntries < 0) Problem($"SummaryMaxEntries must be >= 0 (0 = no cap), got {SummaryMaxEntries}");
        if (!Enum.IsDefined(Values)) Problem($"Values {Values} is not a known storage");
        if (!Enum.IsDefined(RowOrder)) Problem($"RowOrder {RowOrder} is not a known row order");
        if (DocumentComponents < 1) Problem($"DocumentComponents must be >= 1, got {DocumentComponents}");
        if (CentroidComponents < 1) Problem($"CentroidComponents must be >= 1, got {CentroidComponents}");
        if (KnnNeighbours < 0 || KnnNeighbours > MaxKnnNeighbours)
            Problem($"KnnNeighbours must be in [0, {MaxKnnNeighbours}] (0 = no kNN graph), got {KnnNeighbours}");
        if (KnnBuildQueryCut < 1) Problem($"KnnBuildQueryCut must be >= 1, got {KnnBuildQueryCut}");
        if (!(KnnBuildHeapFactor >= 0) || float.IsInfinity(KnnBuildHeapFactor))
            Problem($"KnnBuildHeapFactor must be a finite number >= 0, got {KnnBuildHeapFactor}");
        if (Threads < 0) Problem($"Threads must be >= 0 (0 = all cores), got {Threads}");
        if (problems.Length > 0) Guard.ThrowInvalid("invalid Seismic build options: " + problems);
    }
}
