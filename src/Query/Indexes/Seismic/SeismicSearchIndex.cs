using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Indexes.Seismic;

/// <summary>
/// <see cref="SeismicSearchParameters"/> as the query layer's per-call <see cref="SearchParameters"/> (what <see cref="ISearchIndex"/>
/// passes per search, and what a report lists: query_cut, heap_factor, heap_factor_growth, block_order, knn_refine, knn_expand).
/// </summary>
public sealed record SeismicIndexParameters(SeismicSearchParameters Parameters) : SearchParameters
{
    public override IReadOnlyList<ReportField> Describe() =>
    [
        new("query_cut", Parameters.QueryCut),
        new("heap_factor", (double)Parameters.HeapFactor),
        new("heap_factor_growth", (double)Parameters.HeapFactorGrowth),
        new("block_order", SeismicSearchParameters.BlockOrderName(Parameters.BlockOrder)),
        new("knn_refine", Parameters.KnnRefine),
        new("knn_expand", Parameters.KnnExpand),
    ];
}

/// <summary>
/// A Seismic index directory seen through the query layer's index contract (<see cref="ISearchIndex"/>), so
/// `retrieval search --index DIR` and the service can search it. When the directory also holds corpus statistics
/// (built from text), <see cref="EncodeQueryTexts(IReadOnlyList{string})"/> turns query texts into the vectors the index expects.
/// </summary>
public sealed class SeismicSearchIndex : ISearchIndex
{
    /// <summary>The --sweep grid, fastest first: query cut x heap factor.</summary>
    public static readonly IReadOnlyList<int> SweepQueryCuts = [3, 5, 8, 12];
    public static readonly IReadOnlyList<float> SweepHeapFactors = [1.0f, 0.9f, 0.8f, 0.7f, 0.6f];

    private readonly string _directory;

    /// <param name="directory">The index directory.</param>
    /// <param name="openOptions">Where the forward index lives (default in memory; <see cref="SeismicOpenOptions.MappedForward"/>
    /// maps it from forward.bin, the lists and summaries staying in memory).</param>
    public SeismicSearchIndex(string directory, SeismicOpenOptions? openOptions = null)
    {
        _directory = directory;
        if (SeismicTextIndex.IsTextIndex(directory))
        {
            Text = SeismicTextIndex.Open(directory, openOptions);
            Index = Text.Index;
        }
        else
        {
            Index = SeismicIndex.Open(directory, openOptions);
        }
    }

    public SeismicIndex Index { get; }
    /// <summary>The text encoder state when the index was built from text; null for vector-built indexes.</summary>
    public SeismicTextIndex? Text { get; }

    public string Kind => "seismic";
    public Metric Metric => Metric.InnerProduct;
    public int Count => Index.Count;
    public int Dimension => Index.VocabularySize;
    public bool IsSparse => true;
    public long? BytesOnDisk => SeismicIndexFormat.DirectorySize(_directory) +
        (Text is null ? 0 : new FileInfo(Path.Combine(_directory, SeismicTextIndex.StatisticsFile)).Length);
    /// <summary>Exact inner products of the stored weights: exact for float32 storage, float16-rounded otherwise.</summary>
    public bool ScoresAreExact => Index.ValueStorage == ForwardValueStorage.Float32;
    public SearchParameters DefaultParameters { get; } = new SeismicIndexParameters(SeismicSearchParameters.Default);

    public IReadOnlyList<SearchParameters> SweepParameters
    {
        get
        {
            var parameters = new List<SearchParameters>();
            foreach (int cut in SweepQueryCuts)
                foreach (float heap in SweepHeapFactors)
                    parameters.Add(new SeismicIndexParameters(new SeismicSearchParameters { QueryCut = cut, HeapFactor = heap }));
            return parameters;
        }
    }

    /// <summary>Query texts as sparse query vectors with this index's corpus statistics (a text-built index only).</summary>
    public QuerySet EncodeQueryTexts(IReadOnlyList<string> texts) => EncodeQueryTexts(texts, out _);

    /// <summary>As <see cref="EncodeQueryTexts(IReadOnlyList{string})"/>, also counting the [UNK] tokens dropped from the texts.</summary>
    public QuerySet EncodeQueryTexts(IReadOnlyList<string> texts, out long unknownTokens)
    {
        if (Text is null)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"{_directory} was built from sparse vectors, not text: it has no {SeismicTextIndex.StatisticsFile} to encode text queries with");
        return QuerySet.FromSparse(Text.EncodeQueries(texts, out unknownTokens));
    }

    public void SearchOne(QuerySet queries, int query, int k, SearchParameters parameters, Span<int> ids, Span<float> scores) =>
        Index.SearchOne(SparseOf(queries).Row(query), k, ParametersOf(parameters), ids, scores);

    public SearchResults SearchBatch(QuerySet queries, int k, SearchParameters parameters, int threads) =>
        Index.Search(SparseOf(queries), k, ParametersOf(parameters), threads);

    /// <summary>Bytes the index holds in process memory (<see cref="SeismicIndex.ResidentBytes"/>: a mapped forward index's rows excluded).</summary>
    public long ResidentBytes => Index.ResidentBytes;

    /// <summary>Unmaps a mapped forward index (see <see cref="SeismicIndex.Dispose"/>).</summary>
    public void Dispose() => Index.Dispose();

    private static SparseMatrix SparseOf(QuerySet queries) =>
        queries.Sparse ?? throw new RetrievalException(ErrorKind.Incompatible, "a Seismic index needs sparse queries, got dense vectors");

    private static SeismicSearchParameters ParametersOf(SearchParameters parameters) => parameters switch
    {
        SeismicIndexParameters s => s.Parameters,
        NoSearchParameters => SeismicSearchParameters.Default,
        _ => throw new RetrievalException(ErrorKind.InvalidInput, $"parameters {parameters.GetType().Name} are not Seismic's"),
    };
}

/// <summary>Registers the "seismic" manifest format with the query layer's <see cref="IndexRegistry"/>.</summary>
/// <param name="openOptions">How opened indexes hold their forward index (default: in memory).</param>
public sealed class SeismicIndexOpener(SeismicOpenOptions? openOptions = null) : IIndexOpener
{
    /// <summary>How opened indexes hold their forward index.</summary>
    public SeismicOpenOptions OpenOptions { get; } = openOptions ?? SeismicOpenOptions.Default;

    public string Format => SeismicIndexFormat.FormatName;
    public string Description => "Seismic learned-sparse index (blocked inverted lists with quantized summaries)";

    public ISearchIndex Open(string directory, IndexManifestHeader manifest) => new SeismicSearchIndex(directory, OpenOptions);
}
