using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Seismic;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;

namespace Retrieval.Query.Indexes.Seismic;

/// <summary>How raw text becomes Seismic input: BM25 parameters, the optional sqrt(idf) split, and the index build.</summary>
public sealed record SeismicTextOptions
{
    public static readonly SeismicTextOptions Default = new();

    public Bm25Parameters Bm25 { get; init; } = Bm25Parameters.Default;
    /// <summary>Index the score-preserving sqrt(idf) split (<see cref="IdfSplitWeighting"/>) instead of raw BM25 / idf weights.</summary>
    public bool IdfSplit { get; init; }
    public SeismicBuildOptions Build { get; init; } = SeismicBuildOptions.Default;
    /// <summary>Tokenisation threads (0 = all cores).</summary>
    public int Threads { get; init; }
}

/// <summary>
/// A Seismic index over raw text: documents are tokenized (bert-base-uncased WordPiece) into BM25-saturated term
/// weights, queries into inference-free token bags weighted by idf, so Seismic's inner product is the BM25 score.
/// The corpus statistics (N, average length, document frequencies) and the BM25 parameters are saved beside the
/// index (corpus-statistics.bin, checksummed), because encoding a query later needs the same idf.
/// </summary>
public sealed class SeismicTextIndex
{
    public const string StatisticsFile = "corpus-statistics.bin";
    private const string StatisticsMagic = "SSMCTXT1";
    private const uint StatisticsVersion = 1;

    private readonly SparseTextEncoder _encoder;

    private SeismicTextIndex(SeismicIndex index, CorpusStatistics statistics, SeismicTextOptions options, long? unknownDocumentTokens = null)
    {
        UnknownDocumentTokens = unknownDocumentTokens;
        Index = index;
        Statistics = statistics;
        Options = options;
        _encoder = new SparseTextEncoder(threads: options.Threads);
        if (index.VocabularySize != _encoder.VocabularySize)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"the index has {index.VocabularySize} terms but the text encoder's vocabulary has {_encoder.VocabularySize}");
    }

    public SeismicIndex Index { get; }
    public CorpusStatistics Statistics { get; }
    public SeismicTextOptions Options { get; }
    /// <summary>[UNK] tokens dropped from the documents when this index was built in this process (null after <see cref="Open(string)"/>).</summary>
    public long? UnknownDocumentTokens { get; }

    /// <summary>Encodes and indexes <paramref name="texts"/> (row i is document i, named <paramref name="ids"/>[i]).</summary>
    public static SeismicTextIndex Build(IReadOnlyList<string> ids, IReadOnlyList<string> texts, SeismicTextOptions? options = null,
        IProgress<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(texts);
        options ??= SeismicTextOptions.Default;
        if (ids.Count != texts.Count) Guard.ThrowInvalid($"{ids.Count} ids for {texts.Count} texts");
        var encoder = new SparseTextEncoder(threads: options.Threads);
        var (documents, statistics) = encoder.FitDocuments(texts, options.Bm25, progress, out long unknownTokens);
        if (options.IdfSplit) documents = IdfSplitWeighting.Documents(documents, statistics);
        var index = SeismicIndex.Build(documents, options.Build, [.. ids]);
        return new SeismicTextIndex(index, statistics, options, unknownTokens);
    }

    /// <summary>Query texts as the vectors this index expects (idf bags, or count x sqrt(idf) with the split).</summary>
    public SparseMatrix EncodeQueries(IReadOnlyList<string> texts) => EncodeQueries(texts, out _);

    /// <summary>As <see cref="EncodeQueries(IReadOnlyList{string})"/>, also counting the [UNK] tokens dropped from the texts.</summary>
    public SparseMatrix EncodeQueries(IReadOnlyList<string> texts, out long unknownTokens)
    {
        var queries = _encoder.EncodeQueries(texts, Statistics, out unknownTokens);
        return Options.IdfSplit ? IdfSplitWeighting.Queries(queries, Statistics) : queries;
    }

    public SearchResults Search(IReadOnlyList<string> queryTexts, int k, SeismicSearchParameters? parameters = null, int threads = 0) =>
        Index.Search(EncodeQueries(queryTexts), k, parameters, threads);

    /// <summary>True when <paramref name="directory"/> holds a text index (a Seismic index plus corpus statistics).</summary>
    public static bool IsTextIndex(string directory) => File.Exists(Path.Combine(directory, StatisticsFile));

    public void Save(string directory)
    {
        Index.Save(directory);
        using var w = new ChecksummedBinaryFile.Writer(Path.Combine(directory, StatisticsFile), StatisticsMagic, StatisticsVersion, 3);
        w.Section(new float[] { Options.Bm25.K1, Options.Bm25.B });
        w.Section(new long[] { Statistics.DocumentCount, Statistics.TotalTokenCount, Options.IdfSplit ? 1 : 0 });
        w.Section(Statistics.DocumentFrequency);
        w.Commit();
    }

    public static SeismicTextIndex Open(string directory) => Open(directory, null);

    /// <summary>As <see cref="Open(string)"/>, holding the Seismic index as <paramref name="openOptions"/> say (see <see cref="SeismicOpenOptions"/>).</summary>
    public static SeismicTextIndex Open(string directory, SeismicOpenOptions? openOptions)
    {
        var index = SeismicIndex.Open(directory, openOptions);
        try
        {
            return OpenStatistics(directory, index);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    private static SeismicTextIndex OpenStatistics(string directory, SeismicIndex index)
    {
        var path = Path.Combine(directory, StatisticsFile);
        var r = new ChecksummedBinaryFile.Reader(path, StatisticsMagic, StatisticsVersion, StatisticsVersion, null, null);
        var bm25 = r.Section<float>("bm25 parameters");
        var counts = r.Section<long>("corpus counts");
        var df = r.Section<int>("document frequencies");
        r.ExpectEnd();
        if (bm25.Length != 2 || counts.Length != 3 || counts[0] < 0 || counts[0] > int.MaxValue || counts[2] is not (0 or 1))
            throw r.Invalid("malformed corpus statistics header sections");
        CorpusStatistics statistics;
        try
        {
            statistics = new CorpusStatistics((int)counts[0], counts[1], df);
        }
        catch (RetrievalException e)
        {
            throw r.Invalid("corpus statistics are inconsistent: " + e.Message);
        }
        var options = new SeismicTextOptions { Bm25 = new Bm25Parameters(bm25[0], bm25[1]), IdfSplit = counts[2] == 1, Build = index.Options };
        return new SeismicTextIndex(index, statistics, options);
    }
}
