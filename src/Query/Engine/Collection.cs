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
/// <param name="IndexedSegments">Sealed segments served by SPANN or Seismic (not scanned exactly).</param>
/// <param name="AttachedSegments">Segments attached from <c>retrieval build</c> output.</param>
/// <param name="Compactions">Compactions finished since the engine opened (automatic and requested).</param>
public sealed record CollectionInfo(CollectionSchema Schema, long RecordCount, int SegmentCount, int MutableRows, long Tombstones,
    int IndexedSegments = 0, int AttachedSegments = 0, int Compactions = 0);

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
    private readonly SegmentIndexFactory _factory;
    private readonly int _sealRows;
    private readonly string? _segmentRoot;
    private readonly HashSet<int> _reservedSequences = [];
    private readonly List<Task> _background = [];
    private int _nextSequence;
    private int _compactions;
    private readonly int[]? _documentFrequency;
    private long _textTokens;
    private int _textDocuments;
    private int _compacting;

    /// <param name="segmentRoot">The engine's segments directory (this collection's segments go in a subdirectory named by its id), or null to keep nothing on disk.</param>
    public Collection(uint id, CollectionSchema schema, SegmentIndexFactory factory, int sealRows, string? segmentRoot)
    {
        Id = id;
        Schema = schema;
        _factory = factory;
        _sealRows = sealRows;
        _segmentRoot = segmentRoot;
        _segments.Add(new Segment(Math.Min(sealRows, 1024)));
        if (schema.TextEncoders && schema.Sparse is not null) _documentFrequency = new int[schema.Sparse.VocabularySize];
    }

    public uint Id { get; }
    public CollectionSchema Schema { get; }
    public string Name => Schema.Name;

    /// <summary>Called (on a pool thread) when a background index build or compaction finishes, so the engine can check its policies.</summary>
    public Action<Collection>? BackgroundWorkFinished { get; set; }

    /// <summary>Segment index builds that failed and fell back to exact search (the data stays searchable).</summary>
    public int IndexBuildFailures => Volatile.Read(ref _indexBuildFailures);
    private int _indexBuildFailures;

    public CollectionInfo Describe()
    {
        _gate.EnterReadLock();
        try
        {
            long dead = 0;
            int indexed = 0, attached = 0;
            foreach (var s in _segments)
            {
                dead += s.DeadCount;
                if (s.IsAttached) attached++;
                else if (s.IsSealed && s.Sequence >= 0 && s.IsIndexed) indexed++;
            }
            return new CollectionInfo(Schema, _locations.Count, _segments.Count, _segments[^1].Count, dead, indexed, attached, Volatile.Read(ref _compactions));
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

    /// <param name="hash">Checksum of the record's stored bytes: a reopened segment row is live only if the store still holds those bytes.</param>
    public void Upsert(RecordData record, ulong hash)
    {
        _gate.EnterWriteLock();
        try
        {
            if (record.Dense is null && Schema.Dense is not null || record.Sparse is null && Schema.Sparse is not null)
                throw new RetrievalException(ErrorKind.Corrupt, $"record '{record.Key}' of collection '{Name}' has no vectors and no attached segment holds it");
            if (_locations.TryGetValue(record.Key, out long old)) KillLocked(old);
            var mutable = _segments[^1];
            int row = mutable.Append(record.Key, record.Dense, record.Sparse, record.TextTokens, hash);
            _locations[record.Key] = Location(_segments.Count - 1, row);
            CountText(mutable, row, +1);
            if (mutable.Count >= _sealRows)
            {
                // The full segment stops taking rows now and is scanned exactly until its indexes are built off-lock.
                mutable.Freeze();
                _segments.Add(new Segment(Math.Min(_sealRows, 1024)));
                if (_factory.Persists(Schema, mutable.Count) && _segmentRoot is not null) mutable.Sequence = AllocateSequence();
                StartBackground(() => BuildIndexes(mutable));
            }
        }
        finally { _gate.ExitWriteLock(); }
    }

    private void CountText(Segment segment, int row, int sign)
    {
        int tokens = segment.TextTokensAt(row);
        if (_documentFrequency is null || tokens <= 0 || segment.SparseAt(row) is not { } terms) return;
        foreach (int t in terms.Indices) _documentFrequency[t] += sign;
        _textTokens += sign * tokens;
        _textDocuments += sign;
    }

    private string? SegmentDirectory(Segment segment) =>
        segment.Sequence >= 0 && _segmentRoot is not null ? SegmentFiles.SegmentDirectory(_segmentRoot, Id, segment.Sequence) : null;

    /// <summary>Builds a sealed segment's indexes; a failed SPANN/Seismic build falls back to exact search so no row is lost.</summary>
    private void BuildIndexes(Segment segment)
    {
        try
        {
            segment.BuildIndexes(Schema, _factory, SegmentDirectory(segment));
        }
        catch (Exception) when (segment.Sequence >= 0)
        {
            Interlocked.Increment(ref _indexBuildFailures);
            var dir = SegmentDirectory(segment);
            try { if (dir is not null && Directory.Exists(dir)) Directory.Delete(dir, recursive: true); } catch (IOException) { }
            segment.BuildIndexes(Schema, new SegmentIndexFactory(ExactSegmentIndexBuilder.Instance), null);
        }
    }

    private void StartBackground(Action work)
    {
        lock (_background)
        {
            _background.RemoveAll(static t => t.IsCompleted);
            _background.Add(Task.Run(() =>
            {
                work();
                BackgroundWorkFinished?.Invoke(this);
            }));
        }
    }

    /// <summary>Waits until every index build and compaction started so far has finished (rethrows their failures).</summary>
    public async Task WaitForBackgroundAsync()
    {
        while (true)
        {
            Task[] pending;
            lock (_background)
            {
                _background.RemoveAll(static t => t.IsCompletedSuccessfully);
                pending = [.. _background];
                _background.Clear();
            }
            if (pending.Length == 0) return;
            await Task.WhenAll(pending).ConfigureAwait(false);
        }
    }

    public int AllocateSequence()
    {
        lock (_reservedSequences)
        {
            int seq = _nextSequence++;
            _reservedSequences.Add(seq);
            return seq;
        }
    }

    private void ReleaseSequence(int sequence)
    {
        if (sequence < 0) return;
        lock (_reservedSequences) _reservedSequences.Remove(sequence);
    }

    /// <summary>Whether a segment directory is in use (a live segment, or one being built); others may be deleted.</summary>
    public bool IsSequenceReserved(int sequence)
    {
        lock (_reservedSequences) return _reservedSequences.Contains(sequence);
    }

    /// <summary>
    /// Takes the segments reloaded from disk (see <see cref="Segment.Load"/>), oldest first, each with its live rows
    /// already revived and filled; they go before the (still empty) mutable segment. <paramref name="nextSequence"/>
    /// is one past the highest segment directory found.
    /// </summary>
    public void AdoptLoaded(List<Segment> loaded, int nextSequence)
    {
        _gate.EnterWriteLock();
        try
        {
            lock (_reservedSequences) _nextSequence = Math.Max(_nextSequence, nextSequence);
            if (loaded.Count == 0) return;
            if (_segments.Count != 1 || _segments[0].Count != 0) throw new InvalidOperationException("segments are adopted before any record");
            _segments.InsertRange(0, loaded);
            for (int s = 0; s < loaded.Count; s++)
            {
                var segment = loaded[s];
                lock (_reservedSequences) _reservedSequences.Add(segment.Sequence);
                for (int r = 0; r < segment.Count; r++)
                {
                    if (segment.IsDead(r)) continue;
                    _locations[segment.KeyAt(r)] = Location(s, r);
                    CountText(segment, r, +1);
                }
            }
        }
        finally { _gate.ExitWriteLock(); }
    }

    /// <summary>The attached segment with this sequence, if it is in memory.</summary>
    public Segment? FindSegment(int sequence)
    {
        _gate.EnterReadLock();
        try
        {
            foreach (var s in _segments) if (s.Sequence == sequence) return s;
            return null;
        }
        finally { _gate.ExitReadLock(); }
    }

    /// <summary>
    /// Makes every row of an attached segment the live version of its key (tombstoning older versions elsewhere),
    /// inserting the segment before the mutable one if it is not there yet. Idempotent, for log replay.
    /// </summary>
    public void Attach(Segment attached)
    {
        _gate.EnterWriteLock();
        try
        {
            int index = _segments.IndexOf(attached);
            if (index < 0)
            {
                index = _segments.Count - 1;
                var map = new int[_segments.Count];
                for (int s = 0; s < map.Length; s++) map[s] = s < index ? s : s + 1;
                _segments.Insert(index, attached);
                RemapLocked(map);
                lock (_reservedSequences) _reservedSequences.Add(attached.Sequence);
            }
            for (int r = 0; r < attached.Count; r++)
            {
                var key = attached.KeyAt(r);
                long here = Location(index, r);
                if (_locations.TryGetValue(key, out long now))
                {
                    if (now == here && !attached.IsDead(r)) continue;
                    if (now != here) KillLocked(now);
                }
                attached.Revive(r);
                _locations[key] = here;
            }
        }
        finally { _gate.ExitWriteLock(); }
    }

    /// <summary>Rewrites every location's segment index through <paramref name="map"/> (old index -> new index).</summary>
    private void RemapLocked(int[] map)
    {
        var changed = new List<KeyValuePair<RecordKey, long>>();
        foreach (var entry in _locations)
        {
            int s = SegmentOf(entry.Value);
            if (map[s] != s) changed.Add(new(entry.Key, Location(map[s], RowOf(entry.Value))));
        }
        foreach (var entry in changed) _locations[entry.Key] = entry.Value;
    }

    /// <summary>Closes the segments' index files (engine shutdown).</summary>
    public void DisposeSegments()
    {
        _gate.EnterWriteLock();
        try { foreach (var s in _segments) s.Dispose(); }
        finally { _gate.ExitWriteLock(); }
    }

    /// <summary>Whether the automatic compaction policy says to compact now.</summary>
    public bool NeedsCompaction(EngineOptions options)
    {
        if (Volatile.Read(ref _compacting) != 0) return false;
        _gate.EnterReadLock();
        try
        {
            int mergeable = 0;
            long rows = 0, dead = 0;
            foreach (var s in _segments)
            {
                if (!s.IsSealed) continue;
                if (s.IsAttached)
                {
                    if (s.LiveCount == 0) return true; // nothing left to serve: drop it
                    continue;
                }
                mergeable++;
                rows += s.Count;
                dead += s.DeadCount;
            }
            if (mergeable > options.CompactMaxSegments) return true;
            return dead >= options.CompactMinTombstones && dead > options.CompactTombstoneFraction * rows;
        }
        finally { _gate.ExitReadLock(); }
    }

    /// <summary>Starts <see cref="Compact"/> in the background (tracked by <see cref="WaitForBackgroundAsync"/>).</summary>
    public void StartCompaction() => StartBackground(() => Compact());

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
        if (segment.IsDead(row)) return;
        segment.Kill(row);
        CountText(segment, row, -1);
    }

    /// <summary>
    /// Merges every sealed, non-attached segment into one without their tombstoned rows, and drops attached
    /// segments with no live row. The new segment (and its indexes) is built without holding the lock, so searches
    /// and writes go on; the swap at the end takes the write lock briefly and tombstones any copied row whose key
    /// was overwritten or deleted meanwhile. Returns the rows dropped, or -1 when another compaction is running or
    /// there is nothing to do.
    /// </summary>
    public int Compact()
    {
        if (Interlocked.Exchange(ref _compacting, 1) != 0) return -1;
        try
        {
            var merged = new List<Segment>();
            var emptyAttached = new List<Segment>();
            var keys = new List<RecordKey>();
            var sources = new List<(Segment Segment, int Row)>();
            var hashes = new List<ulong>();
            int dropped = 0;
            _gate.EnterReadLock();
            try
            {
                int mergeableDead = 0;
                foreach (var segment in _segments)
                {
                    if (!segment.IsSealed) continue;
                    if (segment.IsAttached)
                    {
                        if (segment.LiveCount == 0) { emptyAttached.Add(segment); dropped += segment.Count; }
                        continue;
                    }
                    merged.Add(segment);
                    mergeableDead += segment.DeadCount;
                }
                if (emptyAttached.Count == 0 && (merged.Count == 0 || (merged.Count == 1 && mergeableDead == 0))) return -1;
                if (merged.Count == 1 && mergeableDead == 0) merged.Clear();
                foreach (var segment in merged)
                {
                    dropped += segment.DeadCount;
                    for (int r = 0; r < segment.Count; r++)
                    {
                        if (segment.IsDead(r)) continue;
                        keys.Add(segment.KeyAt(r));
                        sources.Add((segment, r));
                        hashes.Add(segment.HashAt(r));
                    }
                }
            }
            finally { _gate.ExitReadLock(); }

            Segment? compacted = null;
            if (keys.Count > 0)
            {
                compacted = new Segment(keys.Count);
                for (int i = 0; i < keys.Count; i++)
                {
                    var (segment, row) = sources[i];
                    compacted.Append(keys[i], segment.DenseAt(row), segment.SparseAt(row), segment.TextTokensAt(row), hashes[i]);
                }
                if (_factory.Persists(Schema, keys.Count) && _segmentRoot is not null) compacted.Sequence = AllocateSequence();
                compacted.Freeze();
                BuildIndexes(compacted);
            }

            var removed = new List<Segment>();
            _gate.EnterWriteLock();
            try
            {
                var gone = new HashSet<Segment>(merged);
                foreach (var s in emptyAttached) if (s.LiveCount == 0) gone.Add(s);
                var map = new int[_segments.Count];
                var next = new List<Segment>(_segments.Count);
                if (compacted is not null) next.Add(compacted);
                for (int s = 0; s < _segments.Count; s++)
                {
                    if (gone.Contains(_segments[s])) { map[s] = -1; removed.Add(_segments[s]); continue; }
                    map[s] = next.Count;
                    next.Add(_segments[s]);
                }
                var moved = new List<KeyValuePair<RecordKey, long>>();
                foreach (var entry in _locations)
                {
                    int s = SegmentOf(entry.Value);
                    if (map[s] >= 0 && map[s] != s) moved.Add(new(entry.Key, Location(map[s], RowOf(entry.Value))));
                }
                var indexOf = new Dictionary<Segment, int>();
                for (int s = 0; s < _segments.Count; s++) indexOf[_segments[s]] = s;
                for (int i = 0; i < keys.Count; i++)
                {
                    var (segment, row) = sources[i];
                    int old = indexOf[segment];
                    if (_locations.TryGetValue(keys[i], out long now) && now == Location(old, row)) moved.Add(new(keys[i], Location(0, i)));
                    else compacted!.Kill(i); // overwritten or deleted while the new segment was built
                }
                foreach (var entry in moved) _locations[entry.Key] = entry.Value;
                _segments.Clear();
                _segments.AddRange(next);
            }
            finally { _gate.ExitWriteLock(); }
            foreach (var segment in removed)
            {
                // No search can still hold it: searches run under the read lock, and the swap took the write lock.
                segment.Dispose();
                ReleaseSequence(segment.Sequence);
            }
            Interlocked.Increment(ref _compactions);
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
