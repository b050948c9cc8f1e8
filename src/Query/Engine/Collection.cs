using Retrieval.Index.Errors;
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
/// <param name="BackgroundJobs">
/// Background jobs of this collection queued or running: sealed segments' index builds and compactions (automatic
/// and requested). 0 means the collection is settled: every sealed segment has its indexes and no compaction is due
/// to change its segments until the next write.
/// </param>
public sealed record CollectionInfo(CollectionSchema Schema, long RecordCount, int SegmentCount, int MutableRows, long Tombstones,
    int IndexedSegments = 0, int AttachedSegments = 0, int Compactions = 0, int BackgroundJobs = 0);

/// <summary>
/// One collection in memory: its <see cref="SegmentSet"/> (sealed segments plus one mutable segment, and the key map
/// whose old row is tombstoned when a key is overwritten or deleted), the sealing of full mutable segments with their
/// index builds in the background, and, through helpers, compaction (<see cref="CollectionCompactor"/>) and search
/// (<see cref="CollectionSearcher"/>). Searches run together under the set's read lock; each applied change is exclusive.
/// </summary>
internal sealed class Collection
{
    private readonly SegmentIndexFactory _factory;
    private readonly int _sealRows;
    private readonly string? _segmentRoot;
    private readonly List<Task> _background = [];
    private int _pendingJobs;
    private int _baseBuilding;
    private int _baseDirty;
    private readonly CollectionCompactor _compactor;
    private readonly SegmentAbsorber _absorber;
    private readonly CollectionSearcher _searcher;

    /// <param name="segmentRoot">The engine's segments directory (this collection's segments go in a subdirectory named by its id), or null to keep nothing on disk.</param>
    public Collection(uint id, CollectionSchema schema, SegmentIndexFactory factory, int sealRows, string? segmentRoot)
    {
        Id = id;
        Schema = schema;
        _factory = factory;
        _sealRows = sealRows;
        _segmentRoot = segmentRoot;
        var text = schema.TextEncoders && schema.Sparse is not null ? new TextStatistics(schema.Sparse.VocabularySize) : null;
        Segments = new SegmentSet(Math.Min(sealRows, 1024), text);
        _compactor = new CollectionCompactor(this);
        _absorber = new SegmentAbsorber(this);
        _searcher = new CollectionSearcher(Segments, schema);
    }

    public uint Id { get; }
    public CollectionSchema Schema { get; }
    public string Name => Schema.Name;
    public SegmentSet Segments { get; }
    public SegmentSequences Sequences { get; } = new();

    /// <summary>Held by whatever rewrites the sealed segments (a compaction or an absorb), so they never run together.</summary>
    public SemaphoreSlim MergeGate { get; } = new(1, 1);

    /// <summary>Absorbs of sealed segments into the base finished since the collection was loaded.</summary>
    public int Absorbs => _absorber.Finished;

    /// <summary>Called (on a pool thread) when a background index build or compaction finishes, so the engine can check its policies.</summary>
    public Action<Collection>? BackgroundWorkFinished { get; set; }

    /// <summary>
    /// The record store's current record for a key (null when absent): where sealed rows' dense vectors live once an
    /// index serves them, read back by compaction and <see cref="RetrievalEngine.Get"/>.
    /// </summary>
    public Func<RecordKey, (RecordData Record, ulong Hash)?>? ReadStored { get; set; }

    /// <summary>Whether sealed segments wait to be absorbed into a base segment instead of getting their own index (the automatic policy absorbs them).</summary>
    public bool AbsorbSealed { get; init; }

    /// <summary>Whether this collection grows in place: <see cref="AbsorbSealed"/> and a dense-only schema (a sparse field keeps per-segment Seismic indexes and rebuild compaction).</summary>
    private bool GrowsInPlace => AbsorbSealed && Schema.Sparse is null;

    /// <summary>Where the collection reports what a user should know about but no caller waits for (a failed index build).</summary>
    public Action<string>? Warn { get; set; }

    /// <summary>SPANN/Seismic builds that failed, whose segments fell back to exact search.</summary>
    public int IndexBuildFailures => Volatile.Read(ref _indexBuildFailures);
    private int _indexBuildFailures;

    public CollectionInfo Describe()
    {
        Segments.Gate.EnterReadLock();
        try
        {
            long dead = 0;
            int indexed = 0, attached = 0, indexJobs = 0;
            foreach (var s in Segments.Segments)
            {
                indexJobs += s.Updatable?.Statistics.PendingJobs ?? 0;
                dead += s.DeadCount;
                if (s.IsAttached) attached++;
                else if (s.IsSealed && s.Sequence >= 0 && s.IsIndexed) indexed++;
            }
            return new CollectionInfo(Schema, Segments.Locations.Count, Segments.Segments.Count, Segments.Mutable.Count, dead, indexed, attached,
                _compactor.Finished, PendingBackgroundJobs + indexJobs);
        }
        finally { Segments.Gate.ExitReadLock(); }
    }

    public bool Contains(RecordKey key)
    {
        Segments.Gate.EnterReadLock();
        try { return Segments.Locations.ContainsKey(key); } finally { Segments.Gate.ExitReadLock(); }
    }

    /// <summary>Current BM25 statistics, with <paramref name="extraDocuments"/>/<paramref name="extraTokens"/> counted in (for encoding a new batch).</summary>
    public CorpusStatistics TextStatistics(int extraDocuments = 0, long extraTokens = 0, bool withDocumentFrequency = true)
    {
        var text = Segments.Text ?? throw new InvalidOperationException("collection has no sparse text encoder");
        Segments.Gate.EnterReadLock();
        try { return text.Snapshot(extraDocuments, extraTokens, withDocumentFrequency); }
        finally { Segments.Gate.ExitReadLock(); }
    }

    /// <param name="hash">Checksum of the record's stored bytes: a reopened segment row is live only if the store still holds those bytes.</param>
    public void Upsert(RecordData record, ulong hash)
    {
        Segments.Gate.EnterWriteLock();
        try
        {
            if (record.Dense is null && Schema.Dense is not null || record.Sparse is null && Schema.Sparse is not null)
                throw new RetrievalException(ErrorKind.Corrupt, $"record '{record.Key}' of collection '{Name}' has no vectors and no attached segment holds it");
            if (Segments.Locations.TryGetValue(record.Key, out long old)) Segments.KillLocked(old);
            var mutable = Segments.Mutable;
            int row = mutable.Append(record.Key, record.Dense, record.Sparse, record.TextTokens, hash);
            Segments.Locations[record.Key] = SegmentSet.Location(Segments.Segments.Count - 1, row);
            Segments.CountLiveLocked(mutable, row);
            if (mutable.Count >= _sealRows)
            {
                // The full segment stops taking rows now and is scanned exactly until its indexes are built off-lock.
                mutable.Freeze();
                Segments.Segments.Add(new Segment(Math.Min(_sealRows, 1024)));
                if (PersistsSegmentOf(mutable.Count)) mutable.Sequence = Sequences.Allocate();
                // With a base segment the sealed rows are absorbed into it (by the compaction policy, which the finished
                // job triggers) rather than getting an index of their own; until then they are scanned exactly.
                StartBackground(() =>
                {
                    if (!GrowsInPlace) BuildIndexes(mutable);
                    else if (!_absorber.HasBase && Interlocked.CompareExchange(ref _baseBuilding, 1, 0) == 0)
                    {
                        // One base build at a time: sealed segments arriving meanwhile wait (scanned exactly) and are
                        // absorbed once it is there, rather than each building an index of its own in parallel.
                        try { BuildIndexes(mutable); }
                        finally { Volatile.Write(ref _baseBuilding, 0); }
                    }
                });
            }
        }
        finally { Segments.Gate.ExitWriteLock(); }
    }

    /// <summary>Removes the key; returns whether it existed.</summary>
    public bool Delete(RecordKey key)
    {
        Segments.Gate.EnterWriteLock();
        try
        {
            if (!Segments.Locations.Remove(key, out long location)) return false;
            Segments.KillLocked(location);
            return true;
        }
        finally { Segments.Gate.ExitWriteLock(); }
    }

    /// <summary>
    /// The key's vectors, or false when it is absent. A dense vector the segment no longer holds (an index serves
    /// it) is read from the record store.
    /// </summary>
    public bool TryGetVectors(RecordKey key, out float[]? dense, out SparseTerms? sparse)
    {
        ulong hash;
        bool fromStore;
        Segments.Gate.EnterReadLock();
        try
        {
            dense = null;
            sparse = null;
            if (!Segments.Locations.TryGetValue(key, out long location)) return false;
            var segment = Segments.SegmentAt(location);
            int row = SegmentSet.RowOf(location);
            dense = segment.DenseAt(row);
            sparse = segment.SparseAt(row);
            hash = segment.HashAt(row);
            fromStore = dense is null && Schema.Dense is not null && !segment.IsAttached;
        }
        finally { Segments.Gate.ExitReadLock(); }
        if (fromStore) dense = StoredDense(key, hash);
        return true;
    }

    /// <inheritdoc cref="CollectionSearcher.Search"/>
    public List<(RecordKey Key, float Score)> Search(float[]? dense, SparseTerms? sparse, SearchMode mode, SearchRequest request) =>
        _searcher.Search(dense, sparse, mode, request);

    /// <summary>Whether a sealed segment of this many rows gets a directory on disk (at least one SPANN/Seismic index).</summary>
    public bool PersistsSegmentOf(int rows) => _segmentRoot is not null && _factory.Persists(Schema, rows);

    private string? SegmentDirectory(Segment segment) =>
        segment.Sequence >= 0 && _segmentRoot is not null ? SegmentFiles.SegmentDirectory(_segmentRoot, Id, segment.Sequence) : null;

    /// <summary>
    /// Builds a sealed segment's indexes; a failed SPANN/Seismic build falls back to exact search so no row is lost,
    /// and is counted (<see cref="IndexBuildFailures"/>) and reported through <see cref="Warn"/>. Once an index serves
    /// the dense field the segment drops its in-heap copy of the vectors.
    /// </summary>
    /// <param name="denseOf">Row -> dense vector when the segment does not hold them (a compaction's merged rows).</param>
    public void BuildIndexes(Segment segment, Func<int, float[]?>? denseOf = null)
    {
        try
        {
            segment.BuildIndexes(Schema, _factory, SegmentDirectory(segment), denseOf);
        }
        catch (Exception e) when (segment.Sequence >= 0)
        {
            Interlocked.Increment(ref _indexBuildFailures);
            Warn?.Invoke($"collection '{Name}': index build of segment {segment.Sequence} ({segment.Count} rows) failed, searching it exactly instead: {e.GetType().Name}: {e.Message}");
            var dir = SegmentDirectory(segment);
            try { if (dir is not null && Directory.Exists(dir)) Directory.Delete(dir, recursive: true); } catch (IOException) { }
            segment.BuildIndexes(Schema, SegmentIndexFactory.ExactOnly, null, denseOf);
        }
        Segments.Gate.EnterWriteLock();
        try { segment.ReleaseDenseVectors(); }
        finally { Segments.Gate.ExitWriteLock(); }
    }

    /// <summary>The stored dense vector of a key if the store still holds exactly the record (same hash) a row was built from.</summary>
    public float[]? StoredDense(RecordKey key, ulong hash) =>
        ReadStored?.Invoke(key) is { } stored && stored.Hash == hash ? stored.Record.Dense : null;

    /// <summary>
    /// Background jobs queued or running (index builds, compactions). A job counts from the moment it is queued until
    /// after <see cref="BackgroundWorkFinished"/> returned, so a compaction that callback starts is counted before the
    /// finished job stops counting, and the number never drops to 0 between two chained jobs.
    /// </summary>
    public int PendingBackgroundJobs => Volatile.Read(ref _pendingJobs);

    /// <summary>Queues <paramref name="work"/> on the pool, tracked by <see cref="PendingBackgroundJobs"/> and <see cref="WaitForBackgroundAsync"/>.</summary>
    public void StartBackground(Action work)
    {
        lock (_background)
        {
            _background.RemoveAll(static t => t.IsCompleted);
            Interlocked.Increment(ref _pendingJobs);
            _background.Add(Task.Run(() =>
            {
                try
                {
                    work();
                    BackgroundWorkFinished?.Invoke(this);
                }
                finally
                {
                    if (Interlocked.Decrement(ref _pendingJobs) == 0) IdleMemoryRelease.Release();
                }
            }));
        }
    }

    /// <summary>A requested <see cref="Compact"/> on a pool thread, counted in <see cref="PendingBackgroundJobs"/> while it is queued or runs.</summary>
    public async Task<int> CompactRequestedAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _pendingJobs);
        try { return await Task.Run(Compact, cancellationToken).ConfigureAwait(false); }
        finally { Interlocked.Decrement(ref _pendingJobs); }
    }

    /// <summary>Waits until every index build, compaction and absorb started so far, and the base index's background jobs, have finished (rethrows their failures).</summary>
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
            if (pending.Length == 0)
            {
                // Then the base index's own split/merge/reassign jobs, so "settled" means nothing is moving.
                Segment[] segments;
                Segments.Gate.EnterReadLock();
                try { segments = [.. Segments.Segments]; }
                finally { Segments.Gate.ExitReadLock(); }
                foreach (var segment in segments)
                    if (segment.Updatable is { } index) await Task.Run(() => { try { index.WaitForBackground(); } catch (ObjectDisposedException) { } }).ConfigureAwait(false);
                lock (_background) if (_background.Count == 0) return;
                continue;
            }
            await Task.WhenAll(pending).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Takes the segments reloaded from disk (see <see cref="Segment.Load"/>), oldest first, each with its live rows
    /// already revived and filled; they go before the (still empty) mutable segment. <paramref name="nextSequence"/>
    /// is one past the highest segment directory found.
    /// </summary>
    public void AdoptLoaded(List<Segment> loaded, int nextSequence)
    {
        Segments.Gate.EnterWriteLock();
        try
        {
            Sequences.AdvanceTo(nextSequence);
            if (loaded.Count == 0) return;
            if (Segments.Segments.Count != 1 || Segments.Mutable.Count != 0) throw new InvalidOperationException("segments are adopted before any record");
            Segments.Segments.InsertRange(0, loaded);
            for (int s = 0; s < loaded.Count; s++)
            {
                var segment = loaded[s];
                Sequences.Reserve(segment.Sequence);
                for (int r = 0; r < segment.Count; r++)
                {
                    if (segment.IsDead(r)) continue;
                    Segments.Locations[segment.KeyAt(r)] = SegmentSet.Location(s, r);
                    Segments.CountLiveLocked(segment, r);
                }
            }
        }
        finally { Segments.Gate.ExitWriteLock(); }
    }

    /// <summary>The attached segment with this sequence, if it is in memory.</summary>
    public Segment? FindSegment(int sequence)
    {
        Segments.Gate.EnterReadLock();
        try
        {
            foreach (var s in Segments.Segments) if (s.Sequence == sequence) return s;
            return null;
        }
        finally { Segments.Gate.ExitReadLock(); }
    }

    /// <summary>
    /// Makes every row of an attached segment the live version of its key (tombstoning older versions elsewhere),
    /// inserting the segment before the mutable one if it is not there yet. Idempotent, for log replay.
    /// </summary>
    public void Attach(Segment attached)
    {
        Segments.Gate.EnterWriteLock();
        try
        {
            var segments = Segments.Segments;
            int index = segments.IndexOf(attached);
            if (index < 0)
            {
                index = segments.Count - 1;
                var map = new int[segments.Count];
                for (int s = 0; s < map.Length; s++) map[s] = s < index ? s : s + 1;
                segments.Insert(index, attached);
                Segments.RemapLocked(map);
                Sequences.Reserve(attached.Sequence);
            }
            for (int r = 0; r < attached.Count; r++)
            {
                var key = attached.KeyAt(r);
                long here = SegmentSet.Location(index, r);
                if (Segments.Locations.TryGetValue(key, out long now))
                {
                    if (now == here && !attached.IsDead(r)) continue;
                    if (now != here) Segments.KillLocked(now);
                }
                attached.Revive(r);
                Segments.Locations[key] = here;
            }
        }
        finally { Segments.Gate.ExitWriteLock(); }
    }

    /// <summary>Closes the segments' index files (engine shutdown, or the collection dropped).</summary>
    public void DisposeSegments()
    {
        Segments.Gate.EnterWriteLock();
        try { foreach (var s in Segments.Segments) s.Dispose(); }
        finally { Segments.Gate.ExitWriteLock(); }
    }

    /// <summary>
    /// Whether the automatic policy has work: with a base segment (in-place updates), sealed segments waiting to be
    /// absorbed; without one, <see cref="CollectionCompactor.IsNeeded"/> (too many segments or tombstones).
    /// </summary>
    public bool NeedsCompaction(EngineOptions options)
    {
        if (GrowsInPlace && Volatile.Read(ref _baseBuilding) != 0) return false; // the base is being built: wait for it
        return _absorber.HasBase ? _absorber.IsNeeded() : _compactor.IsNeeded(options);
    }

    /// <summary>A requested compaction: rewrites every sealed, non-attached segment into one (<see cref="CollectionCompactor.Compact"/>), waiting for a running absorb.</summary>
    public int Compact()
    {
        MergeGate.Wait();
        try { return _compactor.Compact(); }
        finally { MergeGate.Release(); }
    }

    /// <summary>
    /// The automatic policy's work in the background (tracked by <see cref="WaitForBackgroundAsync"/>): an absorb into
    /// the base when there is one, else a compaction; skipped when either is already running.
    /// </summary>
    public void StartCompaction() => StartBackground(() =>
    {
        if (!MergeGate.Wait(0)) return;
        try
        {
            if (!_absorber.HasBase) _compactor.Compact();
            else
            {
                var (pending, baseLive) = _absorber.Backlog();
                if (pending >= baseLive) _compactor.Compact(); // a bulk load: rebuild into a base twice the size
                else if (_absorber.Absorb() >= 0) Volatile.Write(ref _baseDirty, 1);
            }
        }
        finally { MergeGate.Release(); }
    });

    /// <summary>
    /// Persists the base segment's index if an absorb changed it since (part of every engine checkpoint): waits for a
    /// running absorb or compaction, so the row list written matches the index.
    /// </summary>
    public void CheckpointBase()
    {
        if (Interlocked.Exchange(ref _baseDirty, 0) == 0) return;
        MergeGate.Wait();
        try { _absorber.CheckpointBase(); }
        catch
        {
            Volatile.Write(ref _baseDirty, 1);
            throw;
        }
        finally { MergeGate.Release(); }
    }

    /// <summary>Deletes a segment's directory (after it was compacted or absorbed away); a failure leaves it for recovery to ignore.</summary>
    public void DeleteSegmentDirectory(Segment segment)
    {
        if (SegmentDirectory(segment) is { } dir) SegmentFiles.TryDeleteDirectory(dir);
    }

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
