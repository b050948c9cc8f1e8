using System.Collections.Concurrent;
using System.Diagnostics;
using Retrieval.Index.Errors;
using Retrieval.Index.Graphs;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>Open-time options.</summary>
public sealed record SpannOpenOptions
{
    /// <summary>Hash every byte of postings.bin (and vectors.bin) on open and compare with the manifest; small files are always verified.</summary>
    public bool VerifyPostingChecksums { get; init; } = true;
}

/// <summary>
/// An opened SPANN index: heads, navigation graph and posting directory in memory; postings read per query
/// from postings.bin (buffered or O_DIRECT) or kept in RAM, per <see cref="SpannSearchParameters.Io"/>.
/// The facade over <see cref="SpannIndexReader"/> (open and validate the directory) and
/// <see cref="SpannSearchPipeline"/> (graph over heads, eps2 pruning, batched posting reads, scan and re-rank);
/// <see cref="SelectHeads"/> and <see cref="SearchWithHeads"/> run the coarse and the posting stage alone, so the
/// disk stage can be tested and timed without the graph.
/// Thread-safe: every call rents per-thread scratch from a pool.
/// </summary>
public sealed class SpannIndex : IDisposable
{
    private readonly SpannSearchPipeline _pipeline;
    private readonly SpannDataFiles _data;
    private readonly ConcurrentBag<SpannSearcher> _pool = new();
    private long _headTicks, _postingTicks, _searches, _headEvaluations;

    private SpannIndex(SpannIndexFiles files)
    {
        DirectoryPath = files.Directory;
        BytesOnDisk = files.BytesOnDisk;
        _data = new SpannDataFiles(files.PostingsPath, files.FullVectorsPath, files.FullVectorsDataOffset, files.Postings);
        _pipeline = new SpannSearchPipeline(files, _data);
        MaxPostingCount = files.Postings.MaxCount;
    }

    public string DirectoryPath { get; }
    public SpannManifest Manifest => _pipeline.Manifest;
    public Metric Metric => Manifest.Metric;
    public int Dimension => Manifest.Dimension;
    public int Count => Manifest.VectorCount;
    /// <summary>Heads (= postings) of the index: the most <see cref="SpannSearchParameters.Heads"/> can usefully ask for.</summary>
    public int HeadCount => _pipeline.Heads.Count;
    public long BytesOnDisk { get; }

    internal HeadSet Heads => _pipeline.Heads;
    internal NavigationGraph Graph => _pipeline.Graph;
    internal PostingDirectory Postings => _pipeline.Postings;
    internal PostingLayout Layout => _pipeline.Layout;
    internal int MaxPostingCount { get; }

    /// <summary>Memory the index structures hold: heads, graph, posting directory, and postings/full vectors loaded by in-memory mode.</summary>
    public long ResidentBytes => Heads.ResidentBytes + Graph.ResidentBytes + Postings.ResidentBytes + _data.ResidentBytes;

    /// <summary>Bytes and reads issued to storage by all searches so far (postings and re-rank rows).</summary>
    public long BytesRead => _data.BytesRead;
    public long ReadCount => _data.ReadCount;

    /// <summary>Cumulative time in head selection (graph) and in posting read + scan, for the navigation share of query time.</summary>
    public (TimeSpan HeadSelection, TimeSpan Postings, long Searches) Profile =>
        (Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _headTicks)), Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _postingTicks)), Interlocked.Read(ref _searches));

    /// <summary>Head distance evaluations (navigation seeds + graph) by all searches since <see cref="ResetProfile"/>.</summary>
    public long HeadEvaluations => Interlocked.Read(ref _headEvaluations);

    public void ResetProfile()
    {
        Interlocked.Exchange(ref _headEvaluations, 0);
        Interlocked.Exchange(ref _headTicks, 0);
        Interlocked.Exchange(ref _postingTicks, 0);
        Interlocked.Exchange(ref _searches, 0);
    }

    /// <summary>Opens and validates an index directory; errors name the file and what is wrong with it.</summary>
    public static SpannIndex Open(string directory, SpannOpenOptions? options = null) =>
        new(SpannIndexReader.Open(directory, options ?? new SpannOpenOptions()));

    /// <summary>Loads in-memory mode (or opens the files of a disk mode) now, so a benchmark does not time it.</summary>
    public void Prepare(PostingIoMode mode) => _data.Store(mode);

    internal SpannSearcher RentSearcher() =>
        _pool.TryTake(out var s) ? s : new SpannSearcher(Count, Dimension, MaxPostingCount);

    internal void ReturnSearcher(SpannSearcher searcher) => _pool.Add(searcher);

    /// <summary>
    /// Top-k of one query on the calling thread (reads may run on pool threads), best first into the spans;
    /// scores in the metric's units (squared L2 ascending, ip/cosine descending); pads with -1 / NaN.
    /// Returns how many were found.
    /// </summary>
    public int SearchOne(ReadOnlySpan<float> query, int k, SpannSearchParameters parameters, Span<int> ids, Span<float> scores)
    {
        var s = RentSearcher();
        try { return SearchOne(query, k, parameters, ids, scores, s); }
        finally { ReturnSearcher(s); }
    }

    internal int SearchOne(ReadOnlySpan<float> query, int k, SpannSearchParameters parameters, Span<int> ids, Span<float> scores, SpannSearcher searcher)
    {
        CheckK(k, ids, scores);
        parameters.Validate();
        _pipeline.PrepareQuery(query, searcher);
        long t0 = Stopwatch.GetTimestamp();
        int heads = _pipeline.SelectHeads(parameters, searcher);
        long t1 = Stopwatch.GetTimestamp();
        int found = _pipeline.ScanPostings(searcher.HeadIds.AsSpan(0, heads), k, parameters, ids, scores, searcher);
        long t2 = Stopwatch.GetTimestamp();
        Interlocked.Add(ref _headTicks, t1 - t0);
        Interlocked.Add(ref _headEvaluations, searcher.Graph.Evaluations);
        searcher.Graph.Evaluations = 0;
        Interlocked.Add(ref _postingTicks, t2 - t1);
        Interlocked.Increment(ref _searches);
        return found;
    }

    /// <summary>
    /// The coarse stage alone: the heads (= posting ids) whose postings a search with these parameters reads,
    /// best first, after eps2 pruning; returns their number (at most parameters.Heads).
    /// </summary>
    public int SelectHeads(ReadOnlySpan<float> query, SpannSearchParameters parameters, Span<int> heads)
    {
        parameters.Validate();
        var s = RentSearcher();
        try
        {
            _pipeline.PrepareQuery(query, s);
            int n = _pipeline.SelectHeads(parameters, s);
            s.HeadIds.AsSpan(0, n).CopyTo(heads);
            return n;
        }
        finally { ReturnSearcher(s); }
    }

    /// <summary>
    /// The posting stage alone ("search with pre-assigned heads"): reads the postings of <paramref name="heads"/>
    /// as one batch, scans them, de-duplicates replicas and returns the exact top-k among their vectors.
    /// </summary>
    public int SearchWithHeads(ReadOnlySpan<float> query, ReadOnlySpan<int> heads, int k, SpannSearchParameters parameters, Span<int> ids, Span<float> scores)
    {
        CheckK(k, ids, scores);
        parameters.Validate();
        foreach (int h in heads)
            if ((uint)h >= (uint)Heads.Count) Guard.ThrowInvalid($"head {h} is outside 0..{Heads.Count - 1}");
        var s = RentSearcher();
        try
        {
            _pipeline.PrepareQuery(query, s);
            return _pipeline.ScanPostings(heads, k, parameters, ids, scores, s);
        }
        finally { ReturnSearcher(s); }
    }

    /// <summary>Every query, across <paramref name="threads"/> threads (0 = all cores).</summary>
    public SearchResults Search(DenseVectors queries, int k, SpannSearchParameters parameters, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(queries);
        Guard.SameDimension(Dimension, queries.Dimension, "the query set");
        if (threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {threads}");
        Guard.ValidK(k);
        if (k > Count) Guard.ThrowInvalid($"k = {k} is larger than the {Count} vectors in the index");
        var results = new SearchResults(queries.Count, k);
        parameters.Validate();
        var f32 = queries.ElementType == ElementType.Float32 ? queries : queries.ToFloat32();
        Parallel.For(0, queries.Count, new ParallelOptions { MaxDegreeOfParallelism = threads == 0 ? Environment.ProcessorCount : threads },
            RentSearcher,
            (q, _, s) =>
            {
                SearchOne(f32.Float32Row(q), k, parameters, results.IdsOf(q), results.ScoresOf(q), s);
                return s;
            },
            ReturnSearcher);
        return results;
    }

    private void CheckK(int k, Span<int> ids, Span<float> scores)
    {
        Guard.ValidK(k);
        if (k > Count) Guard.ThrowInvalid($"k = {k} is larger than the {Count} vectors in the index");
        if (ids.Length < k || scores.Length < k)
            Guard.ThrowInvalid($"output spans must hold k = {k} entries, got {ids.Length} ids and {scores.Length} scores");
    }

    public void Dispose()
    {
        _data.Dispose();
        while (_pool.TryTake(out var s)) s.Dispose();
        _data.DisposeReadWorkers();
    }
}
