namespace Retrieval.Query.Engine;

/// <summary>
/// Compaction of one collection: the automatic policy (too many sealed segments, or too many tombstones) and the
/// merge itself, which rewrites every sealed, non-attached segment into one without its dead rows and drops attached
/// segments with no live row left.
/// </summary>
internal sealed class CollectionCompactor(Collection collection)
{
    private readonly SegmentSet _set = collection.Segments;
    private int _running;
    private int _finished;

    /// <summary>Compactions finished since the collection was loaded.</summary>
    public int Finished => Volatile.Read(ref _finished);

    /// <summary>Whether the automatic compaction policy says to compact now.</summary>
    public bool IsNeeded(EngineOptions options)
    {
        if (Volatile.Read(ref _running) != 0) return false;
        _set.Gate.EnterReadLock();
        try
        {
            int mergeable = 0;
            long rows = 0, dead = 0;
            foreach (var s in _set.Segments)
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
        finally { _set.Gate.ExitReadLock(); }
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
        if (Interlocked.Exchange(ref _running, 1) != 0) return -1;
        try
        {
            var merged = new List<Segment>();
            var emptyAttached = new List<Segment>();
            var keys = new List<RecordKey>();
            var sources = new List<(Segment Segment, int Row)>();
            var hashes = new List<ulong>();
            int dropped = 0;
            _set.Gate.EnterReadLock();
            try
            {
                int mergeableDead = 0;
                foreach (var segment in _set.Segments)
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
            finally { _set.Gate.ExitReadLock(); }

            Segment? compacted = null;
            if (keys.Count > 0)
            {
                // Dense vectors are not copied into the new segment: the build streams them from the old segments
                // (while they still hold them) or from the record store, so a compaction's heap stays small.
                compacted = new Segment(keys.Count);
                for (int i = 0; i < keys.Count; i++)
                {
                    var (segment, row) = sources[i];
                    compacted.Append(keys[i], null, segment.SparseAt(row), segment.TextTokensAt(row), hashes[i]);
                }
                if (collection.PersistsSegmentOf(keys.Count)) compacted.Sequence = collection.Sequences.Allocate();
                compacted.Freeze();
                collection.BuildIndexes(compacted, i => sources[i].Segment.DenseAt(sources[i].Row) ?? collection.StoredDense(keys[i], hashes[i]));
            }

            var removed = Swap(merged, emptyAttached, compacted, keys, sources);
            foreach (var segment in removed)
            {
                // No search can still hold it: searches run under the read lock, and the swap took the write lock.
                segment.Dispose();
                collection.Sequences.Release(segment.Sequence);
            }
            Interlocked.Increment(ref _finished);
            return dropped;
        }
        finally { Volatile.Write(ref _running, 0); }
    }

    /// <summary>Puts <paramref name="compacted"/> first in place of the merged segments; returns the segments taken out.</summary>
    private List<Segment> Swap(List<Segment> merged, List<Segment> emptyAttached, Segment? compacted, List<RecordKey> keys,
        List<(Segment Segment, int Row)> sources)
    {
        var removed = new List<Segment>();
        _set.Gate.EnterWriteLock();
        try
        {
            var segments = _set.Segments;
            var gone = new HashSet<Segment>(merged);
            foreach (var s in emptyAttached) if (s.LiveCount == 0) gone.Add(s);
            var map = new int[segments.Count];
            var next = new List<Segment>(segments.Count);
            if (compacted is not null) next.Add(compacted);
            for (int s = 0; s < segments.Count; s++)
            {
                if (gone.Contains(segments[s])) { map[s] = -1; removed.Add(segments[s]); continue; }
                map[s] = next.Count;
                next.Add(segments[s]);
            }
            // Decided on the old locations, before any is remapped: a remapped location could equal an old one.
            var indexOf = new Dictionary<Segment, int>();
            for (int s = 0; s < segments.Count; s++) indexOf[segments[s]] = s;
            var moved = new List<KeyValuePair<RecordKey, long>>();
            for (int i = 0; i < keys.Count; i++)
            {
                var (segment, row) = sources[i];
                int old = indexOf[segment];
                if (_set.Locations.TryGetValue(keys[i], out long now) && now == SegmentSet.Location(old, row)) moved.Add(new(keys[i], SegmentSet.Location(0, i)));
                else compacted!.Kill(i); // overwritten or deleted while the new segment was built
            }
            _set.RemapLocked(map);
            foreach (var entry in moved) _set.Locations[entry.Key] = entry.Value;
            segments.Clear();
            segments.AddRange(next);
        }
        finally { _set.Gate.ExitWriteLock(); }
        return removed;
    }
}
