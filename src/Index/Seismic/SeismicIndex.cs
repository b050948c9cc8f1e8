using Retrieval.Index.Storage;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
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
/// <para>Scores are exact inner products (of the stored, possibly float16-rounded, document weights); only the set of
/// documents considered is approximate. Only documents sharing a term with the query's visited lists are candidates,
/// so rows can hold fewer than k answers (padded with id -1 / NaN), as with <see cref="Exact.ExactSparseIndex"/>.</para>
/// <para>A query with no terms (or only terms no document has) returns an all-padding row, not an error. A query
/// term id outside the vocabulary, term ids not strictly increasing (duplicates), and NaN, infinite or negative query
/// weights are InvalidInput errors naming the query row and term. k must be >= 1; k above the document count is
/// allowed (padded).</para>
/// <para>Thread-safe for searches; each running search borrows pooled per-thread scratch, so steady-state searches do
/// not allocate.</para>
/// </remarks>
public sealed class SeismicIndex
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
        _rowRefs = ForwardIndex.RowRefs(forward, postings.DocIds);
        HugePageBytes = forward.HugePageBytes + BackWithHugePages();
        _rowBytes = forward.RowBytes;
        _rowStride = ForwardIndex.EntryBytes(forward.WideTermIds, forward.ValueStorage);
        DocumentRows = new int[rowDocuments.Length];
        for (int r = 0; r < rowDocuments.Length; r++) DocumentRows[rowDocuments[r]] = r;
    }

    private readonly byte[] _rowBytes;
    private readonly int _rowStride;

    /// <summary>Input document id -> forward row (the inverse of <see cref="RowDocuments"/>); the heap holds input ids.</summary>
    internal int[] DocumentRows { get; }

    /// <summary>Each document's approximate nearest neighbours (forward rows), or null when built with KnnNeighbours = 0.</summary>
    public KnnGraph? Graph { get; private set; }

    /// <summary>Per graph slot, the neighbour row's reference (see <see cref="ForwardIndex.RowRefs"/>; padding slots hold row 0's); null when refs do not fit.</summary>
    private uint[]? _graphRefs;

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
        _graphRefs = ForwardIndex.RowRefs(Forward, padded);
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
        if (_rowRefs is not null) bytes += HugePages.TryBack(_rowRefs);
        return bytes;
    }

    /// <summary>Bytes of the index's large arrays that the OS backed with 2 MiB pages at open or build (0 where it declined).</summary>
    public long HugePageBytes { get; }

    /// <summary>Per posting, where its row lies in the forward index (see <see cref="ForwardIndex.RowRefs"/>); null when entries do not fit.</summary>
    private readonly uint[]? _rowRefs;

    /// <summary>Builds an index over <paramref name="documents"/> (row i = doc id i); <paramref name="documentIds"/> optionally names them.</summary>
    public static SeismicIndex Build(SparseMatrix documents, SeismicBuildOptions? options = null, string[]? documentIds = null) =>
        SeismicBuilder.Build(documents, options ?? SeismicBuildOptions.Default, documentIds);

    /// <summary>Opens an index directory written by <see cref="Save"/>, validating every file (see <see cref="SeismicIndexFormat"/>).</summary>
    public static SeismicIndex Open(string directory) => SeismicIndexFormat.Read(directory);

    /// <summary>Writes the index as a directory: manifest.json plus versioned, checksummed binary files (atomic renames).</summary>
    public void Save(string directory) => SeismicIndexFormat.Write(this, directory);

    public SeismicBuildOptions Options { get; }
    /// <summary>Document vectors by row: row r holds input document <see cref="RowDocuments"/>[r].</summary>
    public ForwardIndex Forward { get; }
    /// <summary>Blocked lists; their ids are forward rows (map with <see cref="RowDocuments"/>), not input document ids.</summary>
    public PostingLists Postings { get; }
    /// <summary>
    /// Forward row -> input document id (a permutation; identity with <see cref="ForwardRowOrder.Input"/>). Search
    /// results are always input document ids.
    /// </summary>
    public int[] RowDocuments { get; }
    public QuantizedSummaries Summaries { get; }
    /// <summary>External document ids (row i of the input is DocumentIds[i]), or null when built without them.</summary>
    public string[]? DocumentIds { get; }
    /// <summary>Build statistics when this index was built in this process (null after <see cref="Open"/>).</summary>
    public SeismicBuildStats? BuildStats { get; private set; }

    public int Count => Forward.DocumentCount;
    public int VocabularySize => Forward.VocabularySize;

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
        int workers = threads == 0 ? Environment.ProcessorCount : threads;
        workers = Math.Max(1, Math.Min(workers, (queries.RowCount + QueriesPerClaim - 1) / QueriesPerClaim));
        var total = new SeismicQueryStats();
        if (workers == 1)
        {
            var scratch = RentScratch();
            for (int row = 0; row < queries.RowCount; row++)
                SearchCore(queries.Row(row), k, parameters, results.IdsOf(row), results.ScoresOf(row), scratch, ref total);
            ReturnScratch(scratch);
            stats = total;
            return results;
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
                        SearchCore(queries.Row(row), k, parameters, results.IdsOf(row), results.ScoresOf(row), scratch, ref local);
                }
            }
            finally
            {
                _scratchPool.Add(scratch);
                lock (gate) total.Add(local);
            }
        });
        stats = total;
        return results;
    }

    /// <summary>
    /// Top-<paramref name="k"/> for one query on the calling thread into the first k entries of the spans (best first,
    /// padded with -1 / NaN); returns how many were found. Adds this query's work to <paramref name="stats"/>.
    /// </summary>
    public int SearchOne(SparseVector query, int k, Span<int> ids, Span<float> scores, SeismicSearchParameters parameters,
        ref SeismicQueryStats stats)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        Guard.ValidK(k);
        if (ids.Length < k || scores.Length < k)
            Guard.ThrowInvalid($"output spans hold {ids.Length} ids and {scores.Length} scores, need at least k = {k}");
        ValidateQuery(query, row: -1);
        var scratch = RentScratch();
        try
        {
            return SearchCore(query, k, parameters, ids[..k], scores[..k], scratch, ref stats);
        }
        finally
        {
            _scratchPool.Add(scratch);
        }
    }

    public int SearchOne(SparseVector query, int k, Span<int> ids, Span<float> scores, SeismicSearchParameters? parameters = null)
    {
        var ignored = new SeismicQueryStats();
        return SearchOne(query, k, ids, scores, parameters ?? SeismicSearchParameters.Default, ref ignored);
    }

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

    /// <summary>One query on the calling thread; the caller validated the query and parameters.</summary>
    internal int SearchCore(SparseVector query, int k, SeismicSearchParameters parameters, Span<int> ids, Span<float> scores,
        SeismicScratch scratch, ref SeismicQueryStats stats)
    {
        var heap = scratch.HeapFor(k);
        var terms = query.Indices;
        var weights = query.Values;
        float[] dense = scratch.DenseQuery;
        for (int i = 0; i < terms.Length; i++) dense[terms[i]] = weights[i];
        var lanes = scratch.Lanes;
        if (!lanes.Set(terms, weights)) lanes = null;

        // Query cut: visit the lists of the heaviest terms, heaviest first (ties: lower term id).
        var order = scratch.CutKeysFor(terms.Length);
        for (int i = 0; i < terms.Length; i++)
            order[i] = ((long)(int.MaxValue - BitConverter.SingleToInt32Bits(weights[i] + 0f)) << 32) | (uint)i;
        order.Sort();
        int cut = Math.Min(parameters.QueryCut, terms.Length);

        float heapFactor = parameters.HeapFactor;
        bool timed = parameters.CollectTimings;
        int[] termBlockStart = Postings.TermBlockStart;
        int[] blockDocStart = Postings.BlockDocStart;
        int[] docIds = Postings.DocIds;
        long summaryTicks = 0, documentTicks = 0;
        long l0 = timed ? Stopwatch.GetTimestamp() : 0;
        bool global = parameters.BlockOrder == SeismicBlockOrder.GlobalBestFirst;
        LocateSummaries(terms, order[..cut], scratch);
        if (timed) summaryTicks += Stopwatch.GetTimestamp() - l0;
        int[] runStart = scratch.RunStarts, runEnd = scratch.RunEnds;
        if (global)
        {
            SearchGlobalBestFirst(terms, weights, order[..cut], heap, parameters, timed, scratch, lanes, ref stats, ref summaryTicks, ref documentTicks);
            cut = 0;
        }
        for (int c = 0; c < cut; c++)
        {
            heapFactor = parameters.HeapFactorAt(c);
            int term = terms[(int)(uint)order[c]];
            int firstBlock = termBlockStart[term], blockCount = termBlockStart[term + 1] - firstBlock;
            if (blockCount == 0) continue;
            stats.ListsVisited++;
            if (blockCount == 1)
            {
                // A single-block list has no summary: its few documents are scored directly.
                long s0 = timed ? Stopwatch.GetTimestamp() : 0;
                stats.BlocksScored++;
                stats.DocumentsScored += ScoreBlock(firstBlock, -1, scratch, heap, lanes);
                if (timed) documentTicks += Stopwatch.GetTimestamp() - s0;
                continue;
            }
            long t0 = timed ? Stopwatch.GetTimestamp() : 0;
            stats.SummaryEntriesRead += Summaries.AccumulateRuns(firstBlock, blockCount,
                scratch.SummaryRuns.AsSpan(runStart[c], runEnd[c] - runStart[c]), weights, scratch.BlockScores, scratch.WeightSums);
            PrefetchNextSummaries(terms, order, c + 1, cut, scratch);
            long t1 = timed ? Stopwatch.GetTimestamp() : 0;
            float[] blockScores = scratch.BlockScores;
            if (parameters.BlockOrder == SeismicBlockOrder.ListBestFirst)
            {
                // Visit blocks by summary score, best first: the heap fills with strong documents early, and once one
                // block falls below the bar every later one does too, so the rest of the list is skipped in one step.
                var byScore = scratch.BlockOrderFor(blockCount);
                for (int b = 0; b < blockCount; b++)
                    byScore[b] = ((long)(int.MaxValue - BitConverter.SingleToInt32Bits(Math.Max(blockScores[b], 0f))) << 32) | (uint)b;
                byScore.Sort();
                for (int i = 0; i < blockCount; i++)
                {
                    int b = (int)(uint)byScore[i];
                    if (heap.IsFull && blockScores[b] < heapFactor * heap.Threshold)
                    {
                        stats.BlocksSkipped += blockCount - i;
                        break;
                    }
                    stats.BlocksScored++;
                    // Blocks come in descending summary score, so the next one is the only candidate to prefetch.
                    int next = i + 1 < blockCount ? firstBlock + (int)(uint)byScore[i + 1] : -1;
                    stats.DocumentsScored += ScoreBlock(firstBlock + b, next, scratch, heap, lanes);
                }
            }
            else
            {
                // The next block that passes the heap test as it stands now is prefetched while this one is scored
                // (the test is repeated when its turn comes: the heap may have risen).
                int b = NextAdmissible(blockScores, 0, blockCount, heap, heapFactor);
                stats.BlocksSkipped += b;
                while (b < blockCount)
                {
                    int after = NextAdmissible(blockScores, b + 1, blockCount, heap, heapFactor);
                    stats.BlocksScored++;
                    int next = after < blockCount ? firstBlock + after : -1;
                    stats.DocumentsScored += ScoreBlock(firstBlock + b, next, scratch, heap, lanes);
                    if (after < blockCount && heap.IsFull && blockScores[after] < heapFactor * heap.Threshold)
                        after = NextAdmissible(blockScores, after + 1, blockCount, heap, heapFactor);
                    stats.BlocksSkipped += after - b - 1;
                    b = after;
                }
            }
            if (timed)
            {
                long t2 = Stopwatch.GetTimestamp();
                summaryTicks += t1 - t0;
                documentTicks += t2 - t1;
            }
        }
        if (parameters.KnnRefine && Graph is { } graph)
        {
            long r0 = timed ? Stopwatch.GetTimestamp() : 0;
            int refined = RefineWithGraph(graph, parameters.KnnExpand, k, scratch, heap, lanes);
            stats.DocumentsScored += refined;
            stats.KnnDocumentsScored += refined;
            if (timed) documentTicks += Stopwatch.GetTimestamp() - r0;
        }
        for (int i = 0; i < terms.Length; i++) dense[terms[i]] = 0f;
        scratch.Visited.Clear();
        stats.Queries++;
        stats.SummaryTicks += summaryTicks;
        stats.DocumentTicks += documentTicks;

        int found = heap.DrainSorted(ids, scores);
        ids[found..].Fill(SearchResults.MissingId);
        scores[found..].Fill(float.NaN);
        return found;
    }

    /// <summary>
    /// Finds the query's terms in the summaries of every cut list with more than one block before any list is scored,
    /// leaving cut slot c's located runs at [RunStarts[c], RunEnds[c]) of the scratch runs. Every step of a lookup is a
    /// cache (and TLB) miss (summaries are ~100 MB) and depends on the one before: the list's stretch of the segment
    /// fence, the segment of component ids, the entry offset, the entry run (see <see cref="QuantizedSummaries"/>).
    /// Taking each step for all lists before the next, with the next step's lines prefetched, overlaps the misses of
    /// all lists: ~18 -> ~10 us of cold summary time per query on BM25 passages (query cut 5), with
    /// <see cref="PrefetchNextSummaries"/>.
    /// </summary>
    internal void LocateSummaries(ReadOnlySpan<int> terms, ReadOnlySpan<long> cutOrder, SeismicScratch scratch)
    {
        int[] termBlockStart = Postings.TermBlockStart;
        var summaries = Summaries;
        int[] runStart = scratch.RunStartsFor(cutOrder.Length);
        int[] runEnd = scratch.RunEnds;
        // 1. Each list's stretch of the fence.
        for (int c = 0; c < cutOrder.Length; c++)
        {
            int term = terms[(int)(uint)cutOrder[c]];
            if (termBlockStart[term + 1] - termBlockStart[term] >= 2) summaries.PrefetchFence(term);
        }
        // 2. Search the fence for every query term; prefetch the one segment of component ids that can hold it.
        int segments = 0;
        for (int c = 0; c < cutOrder.Length; c++)
        {
            runStart[c] = segments;
            int term = terms[(int)(uint)cutOrder[c]];
            if (termBlockStart[term + 1] - termBlockStart[term] < 2) continue;
            var runs = scratch.SummaryRunsFor(segments + terms.Length);
            segments += summaries.FindSegments(term, terms, runs.AsSpan(segments, terms.Length));
        }
        runStart[cutOrder.Length] = segments;
        // 3. Search the segments; prefetch the entry offsets of the terms found (runs kept at the front of the slot).
        for (int c = 0; c < cutOrder.Length; c++)
        {
            runEnd[c] = runStart[c];
            if (runStart[c + 1] == runStart[c]) continue;
            int term = terms[(int)(uint)cutOrder[c]];
            runEnd[c] += summaries.SearchSegments(term, terms, scratch.SummaryRuns.AsSpan(runStart[c], runStart[c + 1] - runStart[c]));
        }
        // 4. Read the offsets; prefetch the entry runs (and the first list's block parameters: it is scored next).
        bool first = true;
        for (int c = 0; c < cutOrder.Length; c++)
        {
            int term = terms[(int)(uint)cutOrder[c]];
            int firstBlock = termBlockStart[term], blockCount = termBlockStart[term + 1] - firstBlock;
            if (blockCount < 2) continue;
            summaries.ResolveRuns(term, scratch.SummaryRuns.AsSpan(runStart[c], runEnd[c] - runStart[c]));
            if (first) summaries.PrefetchBlockParameters(firstBlock, blockCount);
            first = false;
        }
    }

    /// <summary>
    /// Prefetches what scoring the summaries of the first list from cut slot <paramref name="from"/> on that has them
    /// will read: its entry runs and its blocks' dequantisation parameters (fetched once by <see cref="LocateSummaries"/>,
    /// but that burst comes too early for all but the first list: most of it is gone or was dropped by then). Called
    /// before the previous list's documents are scored, so they arrive in the meantime; on BM25 passages it took the
    /// cold summary time of the later lists from ~4.7 to ~2.6 us per query.
    /// </summary>
    private void PrefetchNextSummaries(ReadOnlySpan<int> terms, ReadOnlySpan<long> cutOrder, int from, int cut, SeismicScratch scratch)
    {
        int[] termBlockStart = Postings.TermBlockStart;
        int[] runStart = scratch.RunStarts;
        for (int n = from; n < cut; n++)
        {
            int term = terms[(int)(uint)cutOrder[n]];
            int firstBlock = termBlockStart[term], blockCount = termBlockStart[term + 1] - firstBlock;
            if (blockCount < 2) continue;
            Summaries.PrefetchRuns(scratch.SummaryRuns.AsSpan(runStart[n], scratch.RunEnds[n] - runStart[n]));
            Summaries.PrefetchBlockParameters(firstBlock, blockCount);
            return;
        }
    }

    /// <summary>
    /// kNN refinement (CIKM 2024): the documents in the heap after the block walk are likely near the query, and their
    /// graph neighbours likely are too; those this query has not scored yet are scored exactly and offered to the heap.
    /// One step over the heap as it stands (members entering now are not expanded). Returns how many were scored.
    /// </summary>
    private int RefineWithGraph(KnnGraph graph, int expand, int k, SeismicScratch scratch, TopKHeap heap, QueryLanes? lanes)
    {
        var heapIds = heap.UnorderedIds;
        if (heapIds.Length == 0) return 0;
        int kappa = graph.Kappa;
        int used = expand == 0 ? kappa : Math.Min(expand, kappa);
        var (members, rows, rowRefs) = scratch.RefineBuffers(k, used);
        int memberCount = heapIds.Length;
        int[] neighbours = graph.Neighbours;
        int[] documentRows = DocumentRows;
        var visited = scratch.Visited;
        uint[]? graphRefs = _graphRefs;
        // Each step below is a random access per member or neighbour (graph rows lie anywhere in tens of MiB, their
        // documents anywhere in the forward index), so every step first requests all of its lines, then reads them.
        for (int m = 0; m < memberCount; m++)
        {
            int first = documentRows[heapIds[m]] * kappa;
            members[m] = first;
            Prefetch(neighbours, first);
            if (graphRefs is not null) Prefetch(graphRefs, first);
        }
        int candidates = 0;
        for (int m = 0; m < memberCount; m++)
        {
            int first = members[m];
            for (int i = first; i < first + used; i++)
            {
                int row = neighbours[i];
                if (row < 0) break;
                if (visited.IsVisited(row)) continue;
                rows[candidates] = row;
                if (graphRefs is not null) rowRefs[candidates] = graphRefs[i];
                candidates++;
            }
        }
        if (candidates == 0) return 0;
        if (graphRefs is not null) PrefetchRows(rowRefs.AsSpan(0, candidates));
        // Rows named twice (neighbours of two members) are scored once: ScoreUnvisited marks each as it goes.
        return graphRefs is not null
            ? Forward.ScoreUnvisited(rows.AsSpan(0, candidates), default, scratch.DenseQuery, visited, heap, scratch.ValueBuffer,
                RowDocuments, lanes, rowRefs.AsSpan(0, candidates))
            : Forward.ScoreUnvisited(rows.AsSpan(0, candidates), default, scratch.DenseQuery, visited, heap, scratch.ValueBuffer,
                RowDocuments, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch<T>(T[] array, int index) where T : unmanaged
    {
        if (Sse.IsSupported) Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(array), index)));
    }

    /// <summary>Requests the first line of every referenced row (and the second where the row crosses into it).</summary>
    private unsafe void PrefetchRows(ReadOnlySpan<uint> refs)
    {
        if (!Sse.IsSupported) return;
        byte* rows = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_rowBytes));
        for (int i = 0; i < refs.Length; i++)
        {
            uint reference = refs[i];
            byte* row = rows + (long)(reference >> ForwardIndex.RefLengthBits) * _rowStride;
            Sse.Prefetch0(row);
            byte* last = row + (long)(reference & ForwardIndex.RefLengthEscape) * _rowStride - 1;
            if (((nint)last & ~63) != ((nint)row & ~63)) Sse.Prefetch0(last);
        }
    }

    /// <summary>
    /// <see cref="SeismicBlockOrder.GlobalBestFirst"/>: single-block lists (no summary; rare terms, strong documents) are
    /// scored first, then the summaries of every other cut list, then their blocks in one descending summary-score
    /// order across lists. A binary max-heap of (score bits, global block) keys is built in linear time and popped only
    /// as far as blocks pass the bar, so the many blocks that never do are never sorted.
    /// </summary>
    private void SearchGlobalBestFirst(ReadOnlySpan<int> terms, ReadOnlySpan<float> weights, ReadOnlySpan<long> cutOrder,
        TopKHeap heap, SeismicSearchParameters parameters, bool timed, SeismicScratch scratch, QueryLanes? lanes, ref SeismicQueryStats stats,
        ref long summaryTicks, ref long documentTicks)
    {
        int[] termBlockStart = Postings.TermBlockStart;
        float heapFactor = parameters.HeapFactor;
        long t0 = timed ? Stopwatch.GetTimestamp() : 0;
        int total = 0;
        for (int c = 0; c < cutOrder.Length; c++)
        {
            int term = terms[(int)(uint)cutOrder[c]];
            int blockCount = termBlockStart[term + 1] - termBlockStart[term];
            if (blockCount == 0) continue;
            stats.ListsVisited++;
            if (blockCount == 1)
            {
                stats.BlocksScored++;
                stats.DocumentsScored += ScoreBlock(termBlockStart[term], -1, scratch, heap, lanes);
                continue;
            }
            total += blockCount;
        }
        long t1 = timed ? Stopwatch.GetTimestamp() : 0;
        int[] runStart = scratch.RunStarts;
        var keys = scratch.GlobalKeysFor(total);
        var scores = scratch.GlobalScoresFor(total);
        int filled = 0;
        for (int c = 0; c < cutOrder.Length; c++)
        {
            int term = terms[(int)(uint)cutOrder[c]];
            int firstBlock = termBlockStart[term], blockCount = termBlockStart[term + 1] - firstBlock;
            if (blockCount < 2) continue;
            var listScores = scores.Slice(filled, blockCount);
            PrefetchNextSummaries(terms, cutOrder, c + 1, cutOrder.Length, scratch);
            stats.SummaryEntriesRead += Summaries.AccumulateRuns(firstBlock, blockCount,
                scratch.SummaryRuns.AsSpan(runStart[c], scratch.RunEnds[c] - runStart[c]), weights, listScores, scratch.WeightSums);
            // With a heap factor growing along the cut, a block of list c must reach HeapFactorAt(c) x bar: dividing
            // its score by HeapFactorAt(c) / HeapFactor puts every list against the same bar, so one order still holds.
            float scale = parameters.HeapFactor > 0 ? parameters.HeapFactor / parameters.HeapFactorAt(c) : 1f;
            for (int b = 0; b < blockCount; b++)
                keys[filled + b] = ((long)BitConverter.SingleToInt32Bits(Math.Max(listScores[b] * scale, 0f)) << 32) | (uint)(firstBlock + b);
            filled += blockCount;
        }
        long t2 = timed ? Stopwatch.GetTimestamp() : 0;
        BlockKeyHeap.Build(keys);
        int remaining = keys.Length;
        while (remaining > 0)
        {
            long key = BlockKeyHeap.Pop(keys, ref remaining);
            float score = BitConverter.Int32BitsToSingle((int)(key >> 32));
            if (heap.IsFull && score < heapFactor * heap.Threshold)
            {
                stats.BlocksSkipped += remaining + 1;
                break;
            }
            stats.BlocksScored++;
            // The heap's top is the block visited next unless the bar rises past it: prefetch its documents.
            int next = remaining > 0 ? (int)(uint)keys[0] : -1;
            stats.DocumentsScored += ScoreBlock((int)(uint)key, next, scratch, heap, lanes);
        }
        if (timed)
        {
            long t3 = Stopwatch.GetTimestamp();
            summaryTicks += t2 - t1;
            documentTicks += (t1 - t0) + (t3 - t2);
        }
    }

    /// <summary>
    /// Scores the unvisited documents of <paramref name="globalBlock"/>, prefetching those of <paramref name="nextBlock"/>
    /// (-1: none); returns how many were scored.
    /// </summary>
    private int ScoreBlock(int globalBlock, int nextBlock, SeismicScratch scratch, TopKHeap heap, QueryLanes? lanes)
    {
        int[] blockDocStart = Postings.BlockDocStart;
        int start = blockDocStart[globalBlock], end = blockDocStart[globalBlock + 1];
        int nextStart = nextBlock >= 0 ? blockDocStart[nextBlock] : 0, nextEnd = nextBlock >= 0 ? blockDocStart[nextBlock + 1] : 0;
        var docs = Postings.DocIds.AsSpan(start, end - start);
        var next = Postings.DocIds.AsSpan(nextStart, nextEnd - nextStart);
        if (nextEnd > nextStart) PrefetchPostings(nextStart, nextEnd);
        if (_rowRefs is { } refs)
            return Forward.ScoreUnvisited(docs, next, scratch.DenseQuery, scratch.Visited, heap, scratch.ValueBuffer, RowDocuments, lanes,
                refs.AsSpan(start, end - start), refs.AsSpan(nextStart, nextEnd - nextStart));
        return Forward.ScoreUnvisited(docs, next, scratch.DenseQuery, scratch.Visited, heap, scratch.ValueBuffer, RowDocuments, lanes);
    }



    /// <summary>
    /// Prefetches the next block's posting ids and row references (first and last line of each). The row look-ahead
    /// into the next block reads them, and without this each block began with two demand misses.
    /// </summary>
    private unsafe void PrefetchPostings(int start, int end)
    {
        if (!Sse.IsSupported) return;
        ref int ids = ref MemoryMarshal.GetArrayDataReference(Postings.DocIds);
        Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref ids, start)));
        Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref ids, end - 1)));
        if (_rowRefs is { } refs)
        {
            ref uint r = ref MemoryMarshal.GetArrayDataReference(refs);
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref r, start)));
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref r, end - 1)));
        }
    }

    private ReadOnlySpan<int> DocsOf(int globalBlock)
    {
        int[] blockDocStart = Postings.BlockDocStart;
        int start = blockDocStart[globalBlock];
        return Postings.DocIds.AsSpan(start, blockDocStart[globalBlock + 1] - start);
    }

    /// <summary>The first block at or after <paramref name="from"/> whose summary passes the heap test (blockCount when none).</summary>
    private static int NextAdmissible(float[] blockScores, int from, int blockCount, TopKHeap heap, float heapFactor)
    {
        if (!heap.IsFull) return from;
        float bar = heapFactor * heap.Threshold;
        while (from < blockCount && blockScores[from] < bar) from++;
        return from;
    }
}
