using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Indexes.Spann;

/// <summary>A SPANN index directory seen through the query layer's index contract.</summary>
public sealed class SpannSearchIndex : ISearchIndex, IReportsReads
{
    /// <summary>Heads probed by a --sweep, fastest first.</summary>
    public static readonly int[] SweepHeads = [4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256];

    public SpannSearchIndex(SpannIndex index, SpannSearchParameters? defaults = null)
    {
        Index = index;
        Defaults = defaults ?? new SpannSearchParameters();
    }

    public static SpannSearchIndex Open(string directory, SpannOpenOptions? options = null) => new(SpannIndex.Open(directory, options));

    public SpannIndex Index { get; }
    /// <summary>Parameters used by <see cref="DefaultParameters"/> and as the base of the sweep (its I/O mode and eps2 included).</summary>
    public SpannSearchParameters Defaults { get; set; }

    public string Kind => "spann";
    public Metric Metric => Index.Metric;
    public int Count => Index.Count;
    public int Dimension => Index.Dimension;
    public bool IsSparse => false;
    public long? BytesOnDisk => Index.BytesOnDisk;
    public bool ScoresAreExact => true;
    public long BytesRead => Index.BytesRead;
    public long ReadCount => Index.ReadCount;

    public SearchParameters DefaultParameters => new SpannIndexParameters(Defaults);

    public IReadOnlyList<SearchParameters> SweepParameters
    {
        get
        {
            var list = new List<SearchParameters>();
            foreach (int m in SweepHeads)
                if (m <= Index.HeadCount) list.Add(new SpannIndexParameters(Defaults with { Heads = m }));
            return list;
        }
    }

    public void SearchOne(QuerySet queries, int query, int k, SearchParameters parameters, Span<int> ids, Span<float> scores) =>
        Index.SearchOne(queries.Dense!.Float32Row(query), k, Parameters(parameters), ids, scores);

    public SearchResults SearchBatch(QuerySet queries, int k, SearchParameters parameters, int threads) =>
        Index.Search(queries.Dense!, k, Parameters(parameters), threads);

    private static SpannSearchParameters Parameters(SearchParameters parameters) => parameters switch
    {
        SpannIndexParameters s => s.Parameters,
        NoSearchParameters => new SpannSearchParameters(),
        _ => throw new RetrievalException(ErrorKind.InvalidInput, $"SPANN search was given {parameters.GetType().Name}; it takes SpannIndexParameters"),
    };

    public void Dispose() => Index.Dispose();
}

/// <summary>Registers the "spann" format with <see cref="IndexRegistry"/>.</summary>
public sealed class SpannIndexOpener : IIndexOpener
{
    public string Format => SpannFormat.Name;
    public string Description => "SPANN: heads + navigation graph in memory, balanced page-aligned postings on disk";
    public ISearchIndex Open(string directory, IndexManifestHeader manifest) => SpannSearchIndex.Open(directory);
}
