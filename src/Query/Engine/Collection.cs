using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;
using Retrieval.Query.Encoders;

namespace Retrieval.Query.Engine;

/// <summary>What <see cref="RetrievalEngine.Describe"/> reports about a collection.</summary>
/// <param name="RecordCount">Live records.</param>
/// <param name="SegmentCount">Segments, the mutable one included.</param>
/// <param name="MutableRows">Rows in the mutable (exactly scanned) segment, dead ones included.</param>
/// <param name="Tombstones">Dead rows (deleted or overwritten) still held by segments.</param>
public sealed record CollectionInfo(CollectionSchema Schema, long RecordCount, int SegmentCount, int MutableRows, long Tombstones);

/// <summary>
/// One collection in memory: sealed segments plus one mutable segment, a key -> (segment, row) map whose old row is
/// tombstoned when a key is overwritten or deleted, and, for text collections, the live BM25 corpus statistics.
/// A reader-writer lock lets searches run together while each applied change is exclusive.
/// </summary>
internal sealed class Collection
{
    private readonly List<Segment> _segments = [];
    private readonly Dictionary<RecordKey, long> _locations = [];
    private readonly ReaderWriterLockSlim _gate = new(LockRecursionPolicy.NoRecursion);
    private readonly ISegmentIndexBuilder _builder;
    private readonly int _sealRows;
    private readonly int[]? _documentFrequency;
    private long _textTokens;
    private int _textDocuments;
    private int _compacting;

    public Collection(uint id, CollectionSchema schema, ISegmentIndexBuilder builder, int sealRows)
    {
        Id = id;
        Schema = schema;
        _builder = builder;
        _sealRows = sealRows;
        _segments.Add(new Segment(Math.Min(sealRows, 1024)));
        if (schema.TextEncoders && schema.Sparse is not null) _documentFrequency = new int[schema.Sparse.VocabularySize];
    }

    public uint Id { get; }
    public CollectionSchema Schema { get; }
    public string Name => Schema.Name;

    public CollectionInfo Describe()
    {
        _gate.EnterReadLock();
        try
        {
            long dead = 0;
            foreach (var s in _segments) dead += s.DeadCount;
            return new CollectionInfo(Schema, _locations.Count, _segments.Count, _segments[^1].Count, dead);
        }
        finally { _gate.ExitReadLock(); }
    }

    public int Count
    {
        get
        {
            _gate.EnterReadLock();
            try { return _locations.Count; } finally { _gate.ExitReadLock(); }
        }
    }

    public bool Contains(RecordKey key)
    {
        _gate.EnterReadLock();
        try { return _locations.ContainsKey(key); } finally { _gate.ExitReadLock(); }
    }

    /// <summary>Current BM25 statistics, with <paramref name="extraDocuments"/>/<paramref name="extraTokens"/> counted in (for encoding a new batch).</summary>
    public CorpusStatistics TextStatistics(int extraDocuments = 0, long extraTokens = 0, bool withDocumentFrequency = true)
    {
        if (_documentFrequency is null) throw new InvalidOperationException("collection has no sparse text encoder");
        _gate.EnterReadLock();
        try
        {
            int n = _textDocuments + extraDocuments;
            var df = withDocumentFrequency ? (int[])_documentFrequency.Clone() : new int[_documentFrequency.Length];
            return new CorpusStatistics(n, _textTokens + extraTokens, df);
        }
        finally { _gate.ExitReadLock(); }
    }

    public void Upsert(RecordData record)
    {
        _gate.EnterWriteLock();
        try
        {
            if (_locations.TryGetValue(record.Key, out long old)) KillLocked(old);
            var mutable = _segments[^1];
            int row = mutable.Append(record.Key, record.Dense, record.Sparse, record.TextTokens);
            _locations[record.Key] = Location(_segments.Count - 1, row);
            if (_documentFrequency is not null && record.TextTokens > 0 && record.Sparse is { } terms)
            {
                foreach (int t in terms.Indices) _documentFrequency[t]++;
                _textTokens += record.TextTokens;
                _textDocuments++;
            }
            if (mutable.Count >= _sealRows)
            {
                mutable.Seal(Schema, _builder);
                _segments.Add(new Segment(Math.Min(_sealRows, 1024)));
            }
        }
        finally { _gate.ExitWriteLock(); }
    }

    /// <summary>Removes the key; returns whether it existed.</summary>
    public bool Delete(RecordKey key)
    {
        _gate.EnterWriteLock();
        try
        {
            if (!_locations.Remove(key, out long location)) return false;
            KillLocked(location);
            return true;
        }
        finally { _gate.ExitWriteLock(); }
    }

    private void KillLocked(long location)
    {
        var segment = _segments[SegmentOf(location)];
        int row = RowOf(location);
        segment.Kill(row);
        int tokens = segment.TextTokensAt(row);
        if (_documentFrequency is not null && tokens > 0 && segment.SparseAt(row) is { } terms)
        {
            foreach (int t in terms.Indices) _documentFrequency[t]--;
            _textTokens -= tokens;
            _textDocuments--;
        }
    }

    /// <summary>
    /// Merges every sealed segment into one, dropping tombstoned rows. The new segment's indexes are built without
    /// holding the lock (searches and writes go on); the swap at the end takes the write lock briefly and tombstones
    /// any copied row whose key was overwritten or deleted meanwhile. Returns the rows dropped, or -1 when another
    /// compaction is running or there is nothing to merge.
    /// </summary>
    public int Compact()
    {
        if (Interlocked.Exchange(ref _compacting, 1) != 0) return -1;
        try
        {
            int merged;
            var keys = new List<RecordKey>();
            var oldLocations = new List<long>();
            var dense = new List<float[]?>();
            var sparse = new List<SparseTerms?>();
            var tokens = new List<int>();
            int dropped = 0;
            _gate.EnterReadLock();
            try
            {
                merged = _segments.Count - 1; // every segment but the mutable one is sealed
                if (merged < 1 || (merged == 1 && _segments[0].DeadCount == 0)) return -1;
                for (int s = 0; s < merged; s++)
                {
                    var segment = _segments[s];
                    dropped += segment.DeadCount;
                    for (int r = 0; r < segment.Count; r++)
                    {
                        if (segment.IsDead(r)) continue;
                        keys.Add(segment.KeyAt(r));
                        oldLocations.Add(Location(s, r));
                        dense.Add(segment.DenseAt(r));
                        sparse.Add(segment.SparseAt(r));
                        tokens.Add(segment.TextTokensAt(r));
                    }
                }
            }
            finally { _gate.ExitReadLock(); }

            var compacted = new Segment(Math.Max(16, keys.Count));
            for (int i = 0; i < keys.Count; i++) compacted.Append(keys[i], dense[i], sparse[i], tokens[i]);
            compacted.Seal(Schema, _builder);

            _gate.EnterWriteLock();
            try
            {
                // Segments sealed after the snapshot move down to follow the compacted one.
                int shift = merged - 1;
                var moved = new List<KeyValuePair<RecordKey, long>>();
                foreach (var entry in _locations)
                {
                    int s = SegmentOf(entry.Value);
                    if (s >= merged) moved.Add(new(entry.Key, Location(s - shift, RowOf(entry.Value))));
                }
                for (int i = 0; i < keys.Count; i++)
                {
                    if (_locations.TryGetValue(keys[i], out long now) && now == oldLocations[i]) _locations[keys[i]] = Location(0, i);
                    else compacted.Kill(i); // overwritten or deleted while the new segment was built
                }
                foreach (var entry in moved) _locations[entry.Key] = entry.Value;
                _segments.RemoveRange(0, merged);
                _segments.Insert(0, compacted);
            }
            finally { _gate.ExitWriteLock(); }
            return dropped;
        }
        finally { Volatile.Write(ref _compacting, 0); }
    }

    /// <summary>
    /// Searches every segment and returns (key, score) best first. <paramref name="dense"/> / <paramref name="sparse"/>
    /// are the (already encoded and validated) query vectors for the mode being run.
    /// </summary>
    public List<(RecordKey Key, float Score)> Search(float[]? dense, SparseTerms? sparse, SearchMode mode, SearchRequest request)
    {
        _gate.EnterReadLock();
        try
        {
            if (mode == SearchMode.Dense)
            {
                var list = DenseCandidates(dense!, request.K);
                bool negate = !Schema.Dense!.Metric.HigherIsBetter();
                return ToHits(list, negate);
            }
            if (mode == SearchMode.Sparse) return ToHits(SparseCandidates(sparse!, request.K), negate: false);

            int candidates = request.Candidates > 0 ? request.Candidates : Math.Max(request.K, SearchRequest.DefaultHybridCandidates);
            var denseList = DenseCandidates(dense!, candidates);
            var sparseList = SparseCandidates(sparse!, candidates);
            var fused = HybridFusion.Fuse(
                System.Runtime.InteropServices.CollectionsMarshal.AsSpan(denseList),
                System.Runtime.InteropServices.CollectionsMarshal.AsSpan(sparseList),
                request.Fusion, request.DenseWeight, request.SparseWeight, request.RrfConstant, request.K);
            return ToHits(fused, negate: false);
        }
        finally { _gate.ExitReadLock(); }
    }

    /// <summary>The key's vectors, or false when it is absent.</summary>
    public bool TryGetVectors(RecordKey key, out float[]? dense, out SparseTerms? sparse)
    {
        _gate.EnterReadLock();
        try
        {
            dense = null;
            sparse = null;
            if (!_locations.TryGetValue(key, out long location)) return false;
            var segment = _segments[SegmentOf(location)];
            dense = segment.DenseAt(RowOf(location));
            sparse = segment.SparseAt(RowOf(location));
            return true;
        }
        finally { _gate.ExitReadLock(); }
    }

    private List<HybridFusion.Candidate> DenseCandidates(float[] query, int k)
    {
        var metric = Schema.Dense!.Metric;
        float queryInverseNorm = metric == Metric.Cosine ? DenseKernels.InverseNorm(DenseKernels.Dot(query, query)) : 1f;
        Span<int> rows = k <= 256 ? stackalloc int[k] : new int[k];
        Span<float> goodness = k <= 256 ? stackalloc float[k] : new float[k];
        var all = new List<HybridFusion.Candidate>(k * _segments.Count);
        for (int s = 0; s < _segments.Count; s++)
        {
            int n = _segments[s].SearchDense(query, queryInverseNorm, metric, k, rows, goodness);
            for (int i = 0; i < n; i++) all.Add(new HybridFusion.Candidate(Location(s, rows[i]), goodness[i]));
        }
        return Best(all, k);
    }

    private List<HybridFusion.Candidate> SparseCandidates(SparseTerms query, int k)
    {
        Span<int> rows = k <= 256 ? stackalloc int[k] : new int[k];
        Span<float> goodness = k <= 256 ? stackalloc float[k] : new float[k];
        var all = new List<HybridFusion.Candidate>(k * _segments.Count);
        for (int s = 0; s < _segments.Count; s++)
        {
            int n = _segments[s].SearchSparse(query, k, rows, goodness);
            for (int i = 0; i < n; i++) all.Add(new HybridFusion.Candidate(Location(s, rows[i]), goodness[i]));
        }
        return Best(all, k);
    }

    private static List<HybridFusion.Candidate> Best(List<HybridFusion.Candidate> all, int k)
    {
        // Equal goodness: lower location (older segment, lower row) first, like the exact indexes' lower-id rule.
        all.Sort(static (a, b) => a.Goodness != b.Goodness ? b.Goodness.CompareTo(a.Goodness) : a.Location.CompareTo(b.Location));
        if (all.Count > k) all.RemoveRange(k, all.Count - k);
        return all;
    }

    private List<(RecordKey, float)> ToHits(List<HybridFusion.Candidate> list, bool negate)
    {
        var hits = new List<(RecordKey, float)>(list.Count);
        foreach (var c in list)
            hits.Add((_segments[SegmentOf(c.Location)].KeyAt(RowOf(c.Location)), negate ? -c.Goodness : c.Goodness));
        return hits;
    }

    private static long Location(int segment, int row) => ((long)segment << 32) | (uint)row;
    private static int SegmentOf(long location) => (int)(location >> 32);
    private static int RowOf(long location) => (int)(location & 0xFFFFFFFF);

    /// <summary>Throws InvalidInput when the record's vectors do not match the schema.</summary>
    public void ValidateVectors(float[]? dense, SparseTerms? sparse, string field)
    {
        if (Schema.Dense is { } d)
        {
            if (dense is null) Guard.ThrowInvalid($"{field}.vector is required: collection '{Name}' has a {d.Dimension}-d dense field");
            if (dense.Length != d.Dimension) Guard.ThrowInvalid($"{field}.vector has {dense.Length} dimensions, collection '{Name}' expects {d.Dimension}");
            for (int i = 0; i < dense.Length; i++)
                if (!float.IsFinite(dense[i])) Guard.ThrowInvalid($"{field}.vector[{i}] is {dense[i]}, not a finite number");
        }
        else if (dense is not null) Guard.ThrowInvalid($"{field}.vector given, but collection '{Name}' has no dense field");
        if (Schema.Sparse is { } s)
        {
            if (sparse is null) Guard.ThrowInvalid($"{field}.sparse is required: collection '{Name}' has a sparse field");
            sparse.Validate(s.VocabularySize, $"{field}.sparse");
        }
        else if (sparse is not null) Guard.ThrowInvalid($"{field}.sparse given, but collection '{Name}' has no sparse field");
    }
}
