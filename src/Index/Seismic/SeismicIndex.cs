using System.Collections.Concurrent;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Seismic;

/// <summary>
/// Seismic (Bruch, Nardini, Rulli, Venturini, SIGIR 2024): approximate top-k inner-product search over learned sparse
/// vectors. Statically pruned inverted lists are cut into blocks of similar documents, each block carrying a
/// quantized summary (an upper-bound sketch of its documents); a query visits the lists of its heaviest terms, scores
/// all block summaries of a list in one pass, skips blocks whose summary cannot beat the heap, and scores the rest
/// exactly from a forward index holding every full document vector.
/// </summary>
/// <remarks>
/// <para>This class holds the index's data and its public surface (build, open, save, search); one query's work is
/// <see cref="SeismicSearch"/> and the files it names.</para>
/// <para>Scores are exact inner products (of the stored, possibly float16-rounded, document weights); only the set of
/// documents considered is approximate. Only documents sharing a term with the query's visited lists are candidates,
/// so rows can hold fewer than k answers (padded with id -1 / NaN), as with <see cref="Exact.ExactSparseIndex"/>.</para>
/// <para>A query with no terms (or only terms no document has) returns an all-padding row, not an error. A query
/// term id outside the vocabulary, term ids not strictly increasing (duplicates), and NaN, infinite or negative query
/// weights are InvalidInput errors naming the query row and term. k must be >= 1; k above the document count is
/// allowed (padded).</para>
/// <para>Thread-safe for searches; each running search borrows pooled per-thread scratch, so steady-state searches do
/// not allocate.</para>
/// <para>Opened with <see cref="ForwardIndexResidence.MemoryMapped"/>, the forward rows are read in place from
/// forward.bin (page cache) and everything else is in memory; <see cref="Dispose"/> unmaps them once running searches
/// end, and later searches throw ObjectDisposedException. Disposing an in-memory index only refuses later searches.</para>
/// </remarks>
public sealed class SeismicIndex : IDisposable
{
    private const int QueriesPerClaim = 8;
    private readonly ConcurrentBag<SeismicScratch> _scratchPool = new();
    private readonly int _maxBlocksPerList;
    private readonly int _maxDocumentLength;

    internal SeismicIndex(SeismicBuildOptions options, ForwardIndex forward, PostingLists postings, QuantizedSummaries summaries,
        int[] rowDocuments, string[]? documentIds, SeismicBuildStats? buildStats)
    {
        if (rowDocuments.Length != forward.DocumentCount)
            throw new ArgumentException($"{rowDocuments.Length} row documents for {forward.DocumentCount} forward rows");
        RowDocuments = rowDocuments;
        Options = options;
        Forward = forward;
        Postings = postings;
        Summaries = summaries;
        DocumentIds = documentIds;
        BuildStats = buildStats;
        for (int t = 0; t < postings.VocabularySize; t++) _maxBlocksPerList = Math.Max(_maxBlocksPerList, postings.BlockCountOf(t));
        for (int d = 0; d < forward.DocumentCount; d++) _maxDocumentLength = Math.Max(_maxDocumentLength, forward.LengthOf(d));
        PostingRowRefs = ForwardIndex.RowRefs(forward, postings.DocIds);
        HugePageBytes = forward.HugePageBytes + BackWithHugePages();
        ForwardRowStride = ForwardIndex.EntryBytes(forward.WideTermIds, forward.ValueStorage);
        DocumentRows = new int[rowDocuments.Length];
        for (int r = 0; r < rowDocuments.Length; r++) DocumentRows[rowDocuments[r]] = r;
    }

    /// <summary>Bytes per forward-index entry (term id plus weight).</summary>
    internal int ForwardRowStride { get; }

    /// <summary>Input document id -> forward row (the inverse of <see cref="RowDocuments"/>); the heap holds input ids.</summary>
    internal int[] DocumentRows { get; }

    /// <summary>Each document's approximate nearest neighbours (forward rows), or null when built with KnnNeighbours = 0.</summary>
    internal KnnGraph? Graph { get; private set; }

    /// <summary>Per graph slot, the neighbour row's reference (see <see cref="ForwardIndex.RowRefs"/>; padding slots hold row 0's); null when refs do not fit.</summary>
    internal uint[]? GraphRowRefs { get; private set; }

    /// <summary>Per posting, where its row lies in the forward index (see <see cref="ForwardIndex.RowRefs"/>); null when entries do not fit.</summary>
    internal uint[]? PostingRowRefs { get; }

    /// <summary>
    /// Installs the kNN graph (after a build ran its searches, or when opening); <paramref name="buildStats"/> replaces
    /// the build statistics when given (they then include the graph's build time).
    /// </summary>
    internal void AttachGraph(KnnGraph graph, SeismicBuildStats? buildStats = null)
    {
        if (graph.RowCount != Count) throw new ArgumentException($"graph of {graph.RowCount} rows for {Count} documents");
        if (graph.Kappa != Options.KnnNeighbours)
            throw new ArgumentException($"graph kappa {graph.Kappa} but the options say {Options.KnnNeighbours}");
        var rows = graph.Neighbours;
        var padded = new int[rows.Length];
        for (int i = 0; i < rows.Length; i++) padded[i] = Math.Max(rows[i], 0);
        GraphRowRefs = ForwardIndex.RowRefs(Forward, padded);
        Graph = graph;
        if (buildStats is not null) BuildStats = buildStats;
    }

    /// <summary>
    /// The other randomly read arrays (the forward rows do this themselves): postings and their row references are read
    /// a block at a time, scattered over tens of MiB. (Summary entries were tried too and showed no difference.)
    /// </summary>
    private long BackWithHugePages()
    {
        long bytes = HugePages.TryBack(Postings.DocIds);
        if (PostingRowRefs is not null) bytes += HugePages.TryBack(PostingRowRefs);
        return bytes;
    }

    /// <summary>Bytes of the index's large arrays that the OS backed with 2 MiB pages at open or build (0 where it declined).</summary>
    public long HugePageBytes { get; }

    /// <summary>Of <see cref="HugePageBytes"/>, the forward rows' share.</summary>
    public long ForwardHugePageBytes => Forward.HugePageBytes;

    /// <summary>Builds an index over <paramref name="documents"/> (row i = doc id i); <paramref name="documentIds"/> optionally names them.</summary>
    public static SeismicIndex Build(SparseMatrix documents, SeismicBuildOptions? options = null, string[]? documentIds = null) =>
        SeismicBuilder.Build(documents, options ?? SeismicBuildOptions.Default, documentIds);

    /// <summary>Opens an index directory written by <see cref="Save"/>, validating every file (see <see cref="SeismicIndexFormat"/>).</summary>
    public static SeismicIndex Open(string directory) => SeismicIndexFormat.Read(directory);

    /// <summary>
    /// As <see cref="Open(string)"/>, holding the forward index as <paramref name="options"/> say (in memory by
    /// default; <see cref="SeismicOpenOptions.MappedForward"/> maps it from forward.bin). Dispose a mapped index to unmap it.
    /// </summary>
    public static SeismicIndex Open(string directory, SeismicOpenOptions? options) => SeismicIndexFormat.Read(directory, options);

    /// <summary>Where the forward index lives (memory, or mapped from forward.bin).</summary>
    public ForwardIndexResidence ForwardResidence => Forward.Residence;

    /// <summary>
    /// Bytes this index holds in process memory: forward offsets and (unless mapped) rows, lists and their row
    /// references, summaries, row maps, the kNN graph and its references. Mapped rows are excluded: they are page
    /// cache, counted once per machine and reclaimable (document ids' strings are not counted either).
    /// </summary>
    public long ResidentBytes =>
        Forward.ResidentBytes + ListBytes + SummaryBytes + KnnGraphBytes
        + (PostingRowRefs?.LongLength ?? 0) * sizeof(uint) + (GraphRowRefs?.LongLength ?? 0) * sizeof(uint)
        + (RowDocuments.LongLength + DocumentRows.LongLength) * sizeof(int);

    /// <summary>Unmaps a mapped forward index once running searches end; searches started later throw ObjectDisposedException.</summary>
    public void Dispose() => Forward.Dispose();

    /// <summary>Writes the index as a directory: manifest.json plus versioned, checksummed binary files (atomic renames).</summary>
    public void Save(string directory) => SeismicIndexFormat.Write(this, directory);

    public SeismicBuildOptions Options { get; }
    /// <summary>Document vectors by row: row r holds input document <see cref="RowDocuments"/>[r].</summary>
    internal ForwardIndex Forward { get; }
    /// <summary>Blocked lists; their ids are forward rows (map with <see cref="RowDocuments"/>), not input document ids.</summary>
    internal PostingLists Postings { get; }
    /// <summary>
    /// Forward row -> input document id (a permutation; identity with <see cref="ForwardRowOrder.Input"/>). Search
    /// results are always input document ids.
    /// </summary>
    internal int[] RowDocuments { get; }
    internal QuantizedSummaries Summaries { get; }
    /// <summary>External document ids (row i of the input is DocumentIds[i]), or null when built without them.</summary>
    public string[]? DocumentIds { get; }
    /// <summary>Build statistics when this index was built in this process (null after <see cref="Open(string)"/>).</summary>
    public SeismicBuildStats? BuildStats { get; private set; }

    public int Count => Forward.DocumentCount;
    public int VocabularySize => Forward.VocabularySize;
    /// <summary>Stored (document, term) weights in the forward index.</summary>
    public long NonZeroCount => Forward.NonZeroCount;
    /// <summary>How the forward index stores weights (float32 scores equal exact search's to rounding).</summary>
    public ForwardValueStorage ValueStorage => Forward.ValueStorage;
    /// <summary>Bytes of the forward index (offsets, term ids and weights), mapped or not (see <see cref="ResidentBytes"/>).</summary>
    public long ForwardBytes => Forward.SizeInBytes;
    /// <summary>Bytes held by the blocked inverted lists.</summary>
    public long ListBytes => Postings.SizeInBytes;
    /// <summary>Bytes held by the quantized block summaries (the lookup fence built at load included).</summary>
    public long SummaryBytes => Summaries.SizeInBytes;
    /// <summary>Neighbours stored per document in the kNN graph (kappa), 0 when the index has no graph.</summary>
    public int KnnNeighbours => Graph?.Kappa ?? 0;
    /// <summary>Bytes held by the kNN graph (0 without one).</summary>
    public long KnnGraphBytes => Graph?.SizeInBytes ?? 0;

    /// <summary>
    /// Top-<paramref name="k"/> for every row of <paramref name="queries"/>, spread over <paramref name="threads"/>
    /// threads (0 = all cores). All queries are validated before any is searched.
    /// </summary>
    public SearchResults Search(SparseMatrix queries, int k, SeismicSearchParameters? parameters = null, int threads = 0) =>
        Search(queries, k, parameters, threads, out _);

    /// <summary>As <see cref="Search(SparseMatrix, int, SeismicSearchParameters?, int)"/>, also returning the summed work counters.</summary>
    public SearchResults Search(SparseMatrix queries, int k, SeismicSearchParameters? parameters, int threads, out SeismicQueryStats stats)
    {
        ArgumentNullException.ThrowIfNull(queries);
        parameters ??= SeismicSearchParameters.Default;
        parameters.Validate();
        Guard.ValidK(k);
        if (threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {threads}");
        if (queries.ColumnCount > VocabularySize)
            Guard.ThrowInvalid($"queries have {queries.ColumnCount} columns but the index vocabulary has {VocabularySize} terms");
        for (int row = 0; row < queries.RowCount; row++) ValidateQuery(queries.Row(row), row);

        var results = new SearchResults(queries.RowCount, k);
        Forward.BeginRead();
        try
        {
            stats = SearchRows(queries, k, parameters, threads, results);
        }
        finally
        {
            Forward.EndRead();
        }
        return results;
    }

    private SeismicQueryStats SearchRows(SparseMatrix queries, int k, SeismicSearchParameters parameters, int threads, SearchResults results)
    {
        int workers = threads == 0 ? Environment.ProcessorCount : threads;
        workers = Math.Max(1, Math.Min(workers, (queries.RowCount + QueriesPerClaim - 1) / QueriesPerClaim));
        var total = new SeismicQueryStats();
        if (workers == 1)
        {
            var scratch = RentScratch();
            for (int row = 0; row < queries.RowCount; row++)
                SeismicSearch.Run(this, queries.Row(row), k, parameters, results.IdsOf(row), results.ScoresOf(row), scratch, ref total);
            ReturnScratch(scratch);
            return total;
        }
        int nextRow = 0;
        var gate = new object();
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
        {
            var scratch = RentScratch();
            var local = new SeismicQueryStats();
            try
            {
                while (true)
                {
                    int first = Interlocked.Add(ref nextRow, QueriesPerClaim) - QueriesPerClaim;
                    if (first >= queries.RowCount) break;
                    int last = Math.Min(first + QueriesPerClaim, queries.RowCount);
                    for (int row = first; row < last; row++)
                        SeismicSearch.Run(this, queries.Row(row), k, parameters, results.IdsOf(row), results.ScoresOf(row), scratch, ref local);
                }
            }
            finally
            {
                _scratchPool.Add(scratch);
                lock (gate) total.Add(local);
            }
        });
        return total;
    }

    /// <summary>
    /// Top-<paramref name="k"/> for one query on the calling thread into the first k entries of the spans (best first,
    /// padded with -1 / NaN); returns how many were found. Adds this query's work to <paramref name="stats"/>.
    /// </summary>
    public int SearchOne(SparseVector query, int k, SeismicSearchParameters parameters, Span<int> ids, Span<float> scores,
        ref SeismicQueryStats stats)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        Guard.ValidK(k);
        if (ids.Length < k || scores.Length < k)
            Guard.ThrowInvalid($"output spans hold {ids.Length} ids and {scores.Length} scores, need at least k = {k}");
        ValidateQuery(query, row: -1);
        Forward.BeginRead();
        var scratch = RentScratch();
        try
        {
            return SeismicSearch.Run(this, query, k, parameters, ids[..k], scores[..k], scratch, ref stats);
        }
        finally
        {
            _scratchPool.Add(scratch);
            Forward.EndRead();
        }
    }

    /// <summary>As the overload with work counters, without them.</summary>
    public int SearchOne(SparseVector query, int k, SeismicSearchParameters parameters, Span<int> ids, Span<float> scores)
    {
        var ignored = new SeismicQueryStats();
        return SearchOne(query, k, parameters, ids, scores, ref ignored);
    }

    /// <summary>With <see cref="SeismicSearchParameters.Default"/>.</summary>
    public int SearchOne(SparseVector query, int k, Span<int> ids, Span<float> scores) =>
        SearchOne(query, k, SeismicSearchParameters.Default, ids, scores);

    internal SeismicScratch RentScratch() =>
        _scratchPool.TryTake(out var scratch)
            ? scratch
            : new SeismicScratch(VocabularySize, Count, _maxBlocksPerList, _maxDocumentLength);

    internal void ReturnScratch(SeismicScratch scratch) => _scratchPool.Add(scratch);

    /// <summary>The longest document (entries): buffers that hold any row as a query need this many slots.</summary>
    internal int MaxDocumentLength => _maxDocumentLength;

    private void ValidateQuery(SparseVector query, int row) =>
        SparseQueryValidation.Validate(query, VocabularySize, row,
            negativeWeightsReason: "block summaries bound only non-negative queries");
}
