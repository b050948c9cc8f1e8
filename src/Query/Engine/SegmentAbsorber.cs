using Retrieval.Index.Vectors;

namespace Retrieval.Query.Engine;

/// <summary>
/// In-place growth of a dense collection (SPFresh instead of rebuilds): once one sealed segment is served by an
/// <see cref="UpdatableSpannSegmentIndex"/> (the base), every later sealed segment is absorbed into it — its live
/// rows are inserted into the base's index under new row ids, the base's tombstoned rows are deleted from it, the
/// index is checkpointed with the base's full row list (keys and record hashes) as its user data, and the absorbed
/// segments leave the set. No absorb ever rebuilds the base, so its cost follows the rows absorbed, not the
/// collection's size.
/// </summary>
/// <remarks>
/// Crash safety: an absorb changes the base index only in memory; the engine checkpoint writes it
/// (<see cref="CheckpointBase"/>: copy-on-write postings, then one atomic snapshot with the row list), so the base on
/// disk is always one whole checkpoint with the rows it lists. Rows absorbed after it are, after a crash, in no
/// segment on disk (absorbed segments are never written) but in the record store and the log, so recovery puts them in
/// the mutable segment and they are absorbed again; rows the base lists but the store no longer holds stay
/// tombstoned. Checkpointing at every absorb instead would rewrite most postings each time (a batch touches most of
/// them), about the whole index per absorb. Absorbs run one at a time and never beside a compaction or a base
/// checkpoint (<see cref="Collection.MergeGate"/>).
/// </remarks>
internal sealed class SegmentAbsorber(Collection collection)
{
    private const int InsertBatchRows = 2048;
    private readonly SegmentSet _set = collection.Segments;
    private int _absorbed;

    /// <summary>Absorbs finished since the collection was loaded.</summary>
    public int Finished => Volatile.Read(ref _absorbed);

    /// <summary>Whether this collection grows in place: a dense-only schema whose base segment is in place.</summary>
    public bool HasBase
    {
        get
        {
            _set.Gate.EnterReadLock();
            try { return FindBaseLocked() is not null; }
            finally { _set.Gate.ExitReadLock(); }
        }
    }

    /// <summary>Whether a base exists and some other sealed, non-attached segment waits to be absorbed.</summary>
    public bool IsNeeded()
    {
        _set.Gate.EnterReadLock();
        try
        {
            var baseSegment = FindBaseLocked();
            if (baseSegment is null) return false;
            foreach (var s in _set.Segments)
                if (s != baseSegment && s.IsSealed && !s.IsAttached) return true;
            return false;
        }
        finally { _set.Gate.ExitReadLock(); }
    }

    /// <summary>
    /// Rows waiting to be absorbed and the base's live rows. When the waiting rows are as many as the base holds (a
    /// bulk load, not an update stream) a rebuild of everything is cheaper than growing the base many times over by
    /// splits, so the policy rebuilds then (<see cref="Collection.StartCompaction"/>): bases grow geometrically and
    /// every row is rebuilt O(1) times on the way, while updates of a settled collection are absorbed in place.
    /// </summary>
    public (long Pending, long BaseLive) Backlog()
    {
        _set.Gate.EnterReadLock();
        try
        {
            var baseSegment = FindBaseLocked();
            if (baseSegment is null) return (0, 0);
            long pending = 0;
            foreach (var s in _set.Segments)
                if (s != baseSegment && s.IsSealed && !s.IsAttached) pending += s.LiveCount;
            return (pending, baseSegment.LiveCount);
        }
        finally { _set.Gate.ExitReadLock(); }
    }

    /// <summary>The largest sealed, non-attached segment with an in-place index (null when there is none or the schema is not dense-only).</summary>
    private Segment? FindBaseLocked()
    {
        if (collection.Schema.Sparse is not null) return null;
        Segment? best = null;
        foreach (var s in _set.Segments)
            if (s.IsSealed && !s.IsAttached && s.Updatable is not null && (best is null || s.Count > best.Count)) best = s;
        return best;
    }

    /// <summary>
    /// Absorbs every other sealed, non-attached segment into the base. Returns the rows absorbed, or -1 when there is
    /// no base or nothing to absorb. The caller holds <see cref="Collection.MergeGate"/>.
    /// </summary>
    public int Absorb()
    {
        Segment? baseSegment;
        var sources = new List<(Segment Segment, int Row, RecordKey Key, ulong Hash)>();
        var absorbed = new List<Segment>();
        var baseDead = new List<int>();
        int start;
        _set.Gate.EnterReadLock();
        try
        {
            baseSegment = FindBaseLocked();
            if (baseSegment is null) return -1;
            foreach (var s in _set.Segments)
            {
                if (s == baseSegment || !s.IsSealed || s.IsAttached) continue;
                absorbed.Add(s);
                for (int r = 0; r < s.Count; r++)
                    if (!s.IsDead(r)) sources.Add((s, r, s.KeyAt(r), s.HashAt(r)));
            }
            start = baseSegment.Count;
            for (int r = 0; r < start; r++) if (baseSegment.IsDead(r)) baseDead.Add(r);
        }
        finally { _set.Gate.ExitReadLock(); }
        if (absorbed.Count == 0) return -1;

        var index = baseSegment.Updatable!;
        int d = collection.Schema.Dense!.Dimension;
        // Deleted ids are dropped from postings lazily, when those postings are next rewritten (idempotent).
        if (baseDead.Count > 0) index.Delete(baseDead.ToArray());
        var missing = new List<int>();
        var ids = new int[Math.Min(InsertBatchRows, Math.Max(1, sources.Count))];
        var values = new float[ids.Length * d];
        for (int first = 0; first < sources.Count; first += InsertBatchRows)
        {
            int n = Math.Min(InsertBatchRows, sources.Count - first);
            for (int i = 0; i < n; i++)
            {
                var (segment, row, key, hash) = sources[first + i];
                ids[i] = start + first + i;
                var vector = segment.DenseAt(row) ?? collection.StoredDense(key, hash);
                var target = values.AsSpan(i * d, d);
                if (vector is null)
                {
                    // Deleted or overwritten since it was chosen: a stand-in keeps ids dense; the row is killed below.
                    target.Clear();
                    target[0] = 1;
                    missing.Add(start + first + i);
                }
                else vector.CopyTo(target);
            }
            var batch = new float[n * d];
            values.AsSpan(0, n * d).CopyTo(batch);
            index.Insert(ids.AsSpan(0, n), DenseVectors.FromFloat32(batch, n, d));
        }
        if (missing.Count > 0) index.Delete(missing.ToArray());

        var killed = Commit(baseSegment, start, sources, absorbed, missing);
        if (killed.Count > 0) index.Delete(killed.ToArray());
        foreach (var segment in absorbed)
        {
            // No search can still hold it: searches run under the read lock, and the commit took the write lock.
            segment.Dispose();
            collection.Sequences.Release(segment.Sequence);
            collection.DeleteSegmentDirectory(segment);
        }
        Interlocked.Increment(ref _absorbed);
        return sources.Count;
    }

    /// <summary>
    /// Checkpoints the base index with its current row list (keys and record hashes) as user data, which is what a
    /// reopen reads; returns false when there is no base. The caller holds <see cref="Collection.MergeGate"/>.
    /// </summary>
    public bool CheckpointBase()
    {
        Segment? baseSegment;
        byte[] rows;
        _set.Gate.EnterReadLock();
        try
        {
            baseSegment = FindBaseLocked();
            if (baseSegment is null) return false;
            var (keys, hashes) = baseSegment.RowsSnapshot();
            rows = SegmentFiles.EncodeRows(keys, hashes);
        }
        finally { _set.Gate.ExitReadLock(); }
        baseSegment.Updatable!.Checkpoint(rows);
        return true;
    }

    /// <summary>
    /// Under the write lock: appends the absorbed rows to the base, moves each key whose live row is still the copied
    /// one, tombstones the others (overwritten or deleted meanwhile, or missing from the store), and takes the
    /// absorbed segments out. Returns the base rows killed here, for deletion from the index.
    /// </summary>
    private List<int> Commit(Segment baseSegment, int start, List<(Segment Segment, int Row, RecordKey Key, ulong Hash)> sources,
        List<Segment> absorbed, List<int> missing)
    {
        var killed = new List<int>();
        var missingRows = new HashSet<int>(missing);
        _set.Gate.EnterWriteLock();
        try
        {
            var segments = _set.Segments;
            var indexOf = new Dictionary<Segment, int>();
            for (int s = 0; s < segments.Count; s++) indexOf[segments[s]] = s;
            int baseAt = indexOf[baseSegment];
            var moved = new List<KeyValuePair<RecordKey, int>>();
            for (int i = 0; i < sources.Count; i++)
            {
                var (segment, row, key, _) = sources[i];
                int at = baseSegment.AppendAbsorbed(key, sources[i].Hash, segment.SparseAt(row), segment.TextTokensAt(row));
                if (at != start + i) throw new InvalidOperationException($"absorbed row landed at {at}, expected {start + i}");
                bool live = !missingRows.Contains(at) && _set.Locations.TryGetValue(key, out long now) && now == SegmentSet.Location(indexOf[segment], row);
                if (live) moved.Add(new(key, at));
                else
                {
                    baseSegment.Kill(at);
                    killed.Add(at);
                }
            }
            var gone = new HashSet<Segment>(absorbed);
            var map = new int[segments.Count];
            var next = new List<Segment>(segments.Count);
            for (int s = 0; s < segments.Count; s++)
            {
                if (gone.Contains(segments[s])) { map[s] = -1; continue; }
                map[s] = next.Count;
                next.Add(segments[s]);
            }
            _set.RemapLocked(map);
            int newBaseAt = map[baseAt];
            foreach (var (key, row) in moved) _set.Locations[key] = SegmentSet.Location(newBaseAt, row);
            segments.Clear();
            segments.AddRange(next);
        }
        finally { _set.Gate.ExitWriteLock(); }
        return killed;
    }
}
