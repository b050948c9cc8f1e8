using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Exact;

/// <summary>
/// Exact top-k inner-product search over sparse vectors: an in-memory inverted index scanned exhaustively. For each
/// query term every posting of that term is read and weight_query * weight_doc is added to the document's
/// accumulator; the best k touched documents are then selected (ties go to the lower doc id). This is the ground
/// truth that approximate sparse indexes (Seismic) are measured against.
/// </summary>
/// <remarks>
/// <para>Only documents that share at least one term id with the query are candidates: a document with no matching
/// term is never returned (its score, 0, is not a match), so a row can hold fewer than k answers and is then padded
/// with id -1 and score NaN. A query with no term known to the index (or no terms at all) returns an all-padding
/// row, not an error.</para>
/// <para>Query terms are visited in ascending term id and each document's products are summed into one float in that
/// order, so the scores are bit-identical to <see cref="SparseDot.Dot(SparseVector, SparseVector)"/> of the query
/// with the document.</para>
/// <para>Thread-safe: searches may run concurrently; each running search borrows its own scratch (one float, one flag
/// and one int per document), which is pooled and reused, so steady-state searches allocate nothing per query.</para>
/// </remarks>
public sealed class ExactSparseIndex
{
    /// <summary>Queries handed to a worker at a time: big enough to amortise the shared counter, small enough to balance.</summary>
    private const int QueriesPerClaim = 8;

    private readonly ExactSparsePostings _postings;
    private readonly ConcurrentBag<ExactSparseScratch> _scratchPool = new();

    /// <summary>
    /// Builds the inverted index of <paramref name="documents"/> (row i = document id i). Throws
    /// <see cref="RetrievalException"/> (InvalidInput) for a term id outside the matrix's vocabulary, term ids not
    /// strictly increasing within a row, or a NaN/infinite weight, naming the row and term.
    /// </summary>
    public ExactSparseIndex(SparseMatrix documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        _postings = ExactSparsePostings.Build(documents);
        Count = documents.RowCount;
        NonZeroCount = documents.NonZeroCount;
    }

    /// <summary>Number of documents (doc ids are 0 .. Count-1, the rows of the input matrix).</summary>
    public int Count { get; }

    /// <summary>Term ids accepted in queries are 0 .. VocabularySize-1 (the documents' ColumnCount).</summary>
    public int VocabularySize => _postings.VocabularySize;

    /// <summary>Total number of postings (non-zero document entries) held.</summary>
    public long NonZeroCount { get; }

    /// <summary>Number of documents that contain <paramref name="termId"/> (its posting-list length).</summary>
    public int DocumentFrequency(int termId)
    {
        if ((uint)termId >= (uint)VocabularySize)
            Guard.ThrowInvalid($"term id {termId} is outside the vocabulary [0, {VocabularySize})");
        return (int)(_postings.TermOffsets[termId + 1] - _postings.TermOffsets[termId]);
    }

    /// <summary>
    /// Exact top-<paramref name="k"/> inner-product search for every row of <paramref name="queries"/>, spread over
    /// <paramref name="threads"/> threads (0 = all cores). Rows are best first; see the class remarks for padding.
    /// Throws InvalidInput for k &lt; 1, threads &lt; 0, a query term id &gt;= <see cref="VocabularySize"/> (or
    /// negative, or not strictly increasing), or a NaN/infinite query weight, naming the query row and term.
    /// </summary>
    public SearchResults Search(SparseMatrix queries, int k, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(queries);
        Guard.ValidK(k);
        if (threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {threads}");
        // Validate every query before searching any, so a bad row fails fast with its own message rather than
        // surfacing from inside a worker thread.
        for (int row = 0; row < queries.RowCount; row++) ValidateQuery(queries.Row(row), row);

        var results = new SearchResults(queries.RowCount, k);
        int workers = threads == 0 ? Environment.ProcessorCount : threads;
        workers = Math.Max(1, Math.Min(workers, (queries.RowCount + QueriesPerClaim - 1) / QueriesPerClaim));
        if (workers == 1)
        {
            var scratch = RentScratch();
            for (int row = 0; row < queries.RowCount; row++)
                SearchCore(queries.Row(row), k, results.IdsOf(row), results.ScoresOf(row), scratch);
            _scratchPool.Add(scratch);
            return results;
        }

        int nextRow = 0;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
        {
            var scratch = RentScratch();
            try
            {
                while (true)
                {
                    int first = Interlocked.Add(ref nextRow, QueriesPerClaim) - QueriesPerClaim;
                    if (first >= queries.RowCount) break;
                    int last = Math.Min(first + QueriesPerClaim, queries.RowCount);
                    for (int row = first; row < last; row++)
                        SearchCore(queries.Row(row), k, results.IdsOf(row), results.ScoresOf(row), scratch);
                }
            }
            finally
            {
                _scratchPool.Add(scratch);
            }
        });
        return results;
    }

    /// <summary>
    /// Exact top-<paramref name="k"/> for one query on the calling thread, written into the first k entries of
    /// <paramref name="ids"/> and <paramref name="scores"/> (best first, padded with -1 / NaN). Returns how many
    /// documents were found (&lt;= k). No allocation per call once this thread's scratch exists for this k.
    /// </summary>
    public int SearchOne(SparseVector query, int k, Span<int> ids, Span<float> scores)
    {
        Guard.ValidK(k);
        if (ids.Length < k || scores.Length < k)
            Guard.ThrowInvalid($"output spans hold {ids.Length} ids and {scores.Length} scores, need at least k = {k}");
        ValidateQuery(query, row: -1);
        var scratch = RentScratch();
        try
        {
            return SearchCore(query, k, ids[..k], scores[..k], scratch);
        }
        finally
        {
            _scratchPool.Add(scratch);
        }
    }

    private ExactSparseScratch RentScratch() =>
        _scratchPool.TryTake(out var scratch) ? scratch : new ExactSparseScratch(Count);

    private void ValidateQuery(SparseVector query, int row) =>
        SparseQueryValidation.Validate(query, VocabularySize, row);

    /// <summary>Accumulates, selects and resets. Assumes a validated query and k-sized output spans.</summary>
    private int SearchCore(SparseVector query, int k, Span<int> ids, Span<float> scores, ExactSparseScratch scratch)
    {
        Accumulate(query, scratch);
        var heap = scratch.HeapFor(k);
        float[] acc = scratch.Scores;
        int[] touchedDocs = scratch.TouchedDocs;
        for (int i = 0; i < scratch.TouchedCount; i++)
        {
            int doc = touchedDocs[i];
            heap.Push(doc, acc[doc]);
        }
        scratch.ResetTouched();
        int found = heap.DrainSorted(ids, scores);
        ids[found..].Fill(SearchResults.MissingId);
        scores[found..].Fill(float.NaN);
        return found;
    }

    private void Accumulate(SparseVector query, ExactSparseScratch scratch)
    {
        long[] termOffsets = _postings.TermOffsets;
        ref int docBase = ref MemoryMarshal.GetArrayDataReference(_postings.DocIds);
        ref float weightBase = ref MemoryMarshal.GetArrayDataReference(_postings.Weights);
        ref float acc = ref MemoryMarshal.GetArrayDataReference(scratch.Scores);
        ref bool touched = ref MemoryMarshal.GetArrayDataReference(scratch.Touched);
        ref int touchedDocs = ref MemoryMarshal.GetArrayDataReference(scratch.TouchedDocs);
        int touchedCount = scratch.TouchedCount;

        var terms = query.Indices;
        var queryWeights = query.Values;
        for (int qi = 0; qi < terms.Length; qi++)
        {
            int term = terms[qi];
            float wq = queryWeights[qi];
            // Doc ids come from the index itself (all < Count) and the term was validated, so the unchecked
            // accesses below stay in bounds.
            nint start = (nint)termOffsets[term], end = (nint)termOffsets[term + 1];
            for (nint p = start; p < end; p++)
            {
                int doc = Unsafe.Add(ref docBase, p);
                ref bool seen = ref Unsafe.Add(ref touched, doc);
                if (!seen)
                {
                    seen = true;
                    Unsafe.Add(ref touchedDocs, touchedCount++) = doc;
                }
                Unsafe.Add(ref acc, doc) += wq * Unsafe.Add(ref weightBase, p);
            }
        }
        scratch.TouchedCount = touchedCount;
    }
}
