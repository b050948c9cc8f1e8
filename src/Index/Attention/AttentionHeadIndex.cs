using Retrieval.Index.Errors;

namespace Retrieval.Index.Attention;

/// <summary>
/// The attention-aware index of one query head: a RoarGraph-projected key graph built from that head's prefill
/// queries, over a <see cref="KeyValueStore"/> that it shares with the other query heads of its GQA group.
/// Keys appended after the build are linked into the graph at once by <see cref="InsertAppended"/> (query-guided,
/// the default), or sit in an exact buffer ([GraphCount, store.Count)) that every search scans and merges until
/// <see cref="FoldAppended"/> inserts them in one batch.
/// Searches may run concurrently with each other (one <see cref="BeamSearchScratch"/> each) but not with
/// appends or folds; the owner serialises those.
/// </summary>
public sealed unsafe class AttentionHeadIndex
{
    [ThreadStatic] private static BeamSearchScratch? t_scratch;

    private readonly KeyGraph _graph;
    private QueryGuidedInserter? _inserter;

    private AttentionHeadIndex(KeyValueStore store, KeyGraph graph, AttentionIndexOptions options, GraphBuildStats stats)
    {
        Store = store;
        _graph = graph;
        Options = options;
        BuildStats = stats;
    }

    /// <summary>
    /// Builds the graph over all keys currently in <paramref name="store"/> from this head's training
    /// (prefill) queries, trainingCount x d row-major.
    /// </summary>
    public static AttentionHeadIndex Build(KeyValueStore store, ReadOnlySpan<float> trainingQueries, int trainingCount,
        AttentionIndexOptions? options = null)
    {
        options = (options ?? AttentionIndexOptions.Default).Validate();
        int d = store.Dimension;
        if (trainingCount <= 0) Guard.ThrowInvalid($"at least one training (prefill) query is needed, got {trainingCount}");
        if (trainingQueries.Length != (long)trainingCount * d)
            Guard.ThrowInvalid($"training queries hold {trainingQueries.Length} floats, expected {trainingCount} x {d} = {(long)trainingCount * d} (dimension mismatch with the keys?)");
        FiniteCheck.ThrowIfNotFinite(trainingQueries, d, "training queries");
        var graph = RoarGraphBuilder.Build(store, trainingQueries, trainingCount, options, out var stats);
        return new AttentionHeadIndex(store, graph, options, stats);
    }

    /// <summary>
    /// The ablation without query guidance: a graph built from the keys alone by inserting them one at a time
    /// (HNSW base layer / Vamana style, each key searched with itself as the query and RNG-pruned), searched with
    /// the same beam search. This is what a key-built graph does on out-of-distribution attention queries.
    /// </summary>
    public static AttentionHeadIndex BuildFromKeysOnly(KeyValueStore store, AttentionIndexOptions? options = null)
    {
        options = (options ?? AttentionIndexOptions.Default).Validate();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var graph = new KeyGraph(store, options.Connectivity, 1);
        graph.SetEntryPoints([0]);
        graph.Grow(store.Count);
        GraphInsertion.InsertRange(store.Rows, graph, 1, store.Count, options.BuildBeamWidth, new BeamSearchScratch());
        var stats = new GraphBuildStats(0, 0, 0, 0, 0, clock.Elapsed.TotalSeconds, 0, graph.EntryPoints.Length - 1);
        return new AttentionHeadIndex(store, graph, options, stats);
    }

    public KeyValueStore Store { get; }
    internal KeyGraph Graph => _graph;
    public AttentionIndexOptions Options { get; }
    public GraphBuildStats BuildStats { get; }
    public int Dimension => Store.Dimension;

    /// <summary>Keys covered by the graph; later positions are in the exact append buffer.</summary>
    public int GraphCount => _graph.NodeCount;

    /// <summary>Appended keys not yet folded into the graph.</summary>
    public int PendingCount => Store.Count - _graph.NodeCount;

    /// <summary>Keys every search starts from: the build's entry points plus any the connectivity repair added.</summary>
    public int EntryPointCount => _graph.EntryPoints.Length;

    /// <summary>Bytes of this head's own structures (the graph); the shared keys/values are counted by their store.</summary>
    public long MemoryBytes => _graph.MemoryBytes;

    /// <summary>
    /// Top-<paramref name="k"/> keys of <paramref name="query"/> by inner product outside the static part; writes k
    /// ids (positions) and raw q·k scores best first, padded with -1/NaN if fewer exist. Returns how many were found.
    /// Uses a per-thread scratch; pass one to the other overload to read the keys it scored.
    /// </summary>
    public int SearchOne(ReadOnlySpan<float> query, int k, AttentionSearchParameters parameters, Span<int> ids,
        Span<float> scores) =>
        SearchOne(query, k, parameters, ids, scores, t_scratch ??= new BeamSearchScratch());

    /// <summary>
    /// <see cref="SearchOne(ReadOnlySpan{float}, int, AttentionSearchParameters, Span{int}, Span{float})"/> with the
    /// caller's scratch; the keys scored are then in <see cref="BeamSearchScratch.LastKeysScored"/>.
    /// </summary>
    public int SearchOne(ReadOnlySpan<float> query, int k, AttentionSearchParameters parameters, Span<int> ids,
        Span<float> scores, BeamSearchScratch scratch)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(scratch);
        ValidateQuery(query, k, parameters);
        CheckOutputs(k, ids.Length, scores.Length);
        return SearchUnchecked(query, k, parameters, ids, scores, scratch);
    }

    /// <summary>Throws InvalidInput when the query, k or the parameters cannot be used on this head now.</summary>
    public void ValidateQuery(ReadOnlySpan<float> query, int k, AttentionSearchParameters parameters)
    {
        Guard.SameDimension(Dimension, query.Length, "query");
        FiniteCheck.ThrowIfNotFinite(query, Dimension, "query");
        parameters.ValidateFor(k, Store.Count);
    }

    private static void CheckOutputs(int k, int idsLength, int scoresLength)
    {
        if (idsLength < k || scoresLength < k)
            Guard.ThrowInvalid($"output spans hold {Math.Min(idsLength, scoresLength)} entries, need k = {k}");
    }

    private int SearchUnchecked(ReadOnlySpan<float> query, int k, AttentionSearchParameters parameters, Span<int> ids,
        Span<float> scores, BeamSearchScratch scratch)
    {
        int total = Store.Count;
        int sinkEnd = parameters.SinkTokens;
        int windowStart = total - parameters.WindowTokens;
        int ef = Math.Max(parameters.SearchBeamWidth, k);
        var keys = Store.Rows;
        GraphSearch.Run(_graph, keys, query, ef, sinkEnd, windowStart, scratch);
        int scored = scratch.LastKeysScored;
        // The exact append buffer: few keys, scanned in full and merged into the beam as results only.
        for (int position = _graph.NodeCount; position < total; position++)
        {
            if (GraphSearch.IsStatic(position, sinkEnd, windowStart)) continue;
            scratch.Insert(position, GraphSearch.Score(keys, query, position), expanded: true);
            scored++;
        }
        scratch.LastKeysScored = scored;
        return scratch.DrainTop(k, ids[..k], scores[..k]);
    }

    /// <summary>
    /// Partial attention over the top-<paramref name="k"/> retrieved keys: writes the softmax-weighted value average
    /// to <paramref name="output"/> (d floats) and returns the log-sum-exp of the scaled scores, ready for
    /// <see cref="AttentionMerge.Merge"/> with the caller's static part. <paramref name="ids"/> and
    /// <paramref name="scores"/> are k-long work spans (left holding the retrieved keys); the keys scored are in
    /// <see cref="BeamSearchScratch.LastKeysScored"/>.
    /// </summary>
    public float Attend(ReadOnlySpan<float> query, int k, AttentionSearchParameters parameters, Span<float> output,
        Span<int> ids, Span<float> scores, BeamSearchScratch scratch)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(scratch);
        ValidateQuery(query, k, parameters);
        CheckOutputs(k, ids.Length, scores.Length);
        Guard.SameDimension(Dimension, output.Length, "attention output");
        int found = SearchUnchecked(query, k, parameters, ids, scores, scratch);
        return PartialAttention.OverRetrieved(Store, ids[..found], scores[..found], parameters.ScaleFor(Dimension), output);
    }

    /// <summary>
    /// Gives this head's graph slot in the shared node block back for reuse (the owner is dropping or replacing
    /// this index; it must not be searched afterwards).
    /// </summary>
    public void ReleaseGraph() => _graph.Release();

    private QueryGuidedInserter Inserter => _inserter ??=
        new QueryGuidedInserter(Dimension, _graph.Connectivity, Options.RecentQueries, Options.RecentQueryListLength);

    /// <summary>Decode queries remembered for query-guided insertion of appended keys.</summary>
    public int RememberedQueries => _inserter?.RememberedQueries ?? 0;

    /// <summary>
    /// Remembers a decode query of this head (with its current top keys) to guide where later appended keys are
    /// linked. Call it with each step's query (not concurrently with searches on this head).
    /// </summary>
    public void ObserveQuery(ReadOnlySpan<float> query, BeamSearchScratch scratch)
    {
        Guard.SameDimension(Dimension, query.Length, "query");
        FiniteCheck.ThrowIfNotFinite(query, Dimension, "query");
        Inserter.Observe(_graph, Store.Rows, query, Options.BuildBeamWidth, scratch);
    }

    /// <summary>
    /// Links every pending appended key into the graph now: <see cref="AppendMode.QueryGuided"/> insertion, one key
    /// at a time (see <see cref="QueryGuidedInserter"/>).
    /// </summary>
    public void InsertAppended(BeamSearchScratch scratch)
    {
        int total = Store.Count;
        for (int u = _graph.NodeCount; u < total; u++)
        {
            _graph.Grow(u + 1);
            Inserter.Insert(_graph, Store.Rows, u, Math.Max(Options.BuildBeamWidth, 32), Options.AppendFoldBatch, scratch);
        }
    }

    /// <summary>
    /// Inserts the pending appended keys into the graph. Each new key is linked like a connectivity repair
    /// (HNSW-style, the key as its own query): a beam search finds the keys that score it highest, the new key
    /// takes the RNG-pruned best of them as out-neighbours, and they take it as a reverse neighbour (re-pruned
    /// when full). Keys are inserted in order, so later ones can link to earlier ones.
    /// </summary>
    public void FoldAppended(BeamSearchScratch scratch)
    {
        int first = _graph.NodeCount, total = Store.Count;
        if (first == total) return;
        _graph.Grow(total);
        GraphInsertion.InsertRange(Store.Rows, _graph, first, total, Options.BuildBeamWidth, scratch);
    }
}
