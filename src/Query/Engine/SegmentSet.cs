namespace Retrieval.Query.Engine;

/// <summary>
/// A collection's segments (sealed ones first, the mutable one last) and the key -> (segment, row) map into them,
/// with the reader-writer lock that guards both: searches hold it shared, every change holds it exclusive.
/// A location packs the segment's index in the list and the row into one long.
/// </summary>
internal sealed class SegmentSet
{
    public SegmentSet(int mutableCapacity, TextStatistics? text)
    {
        Text = text;
        Segments.Add(new Segment(mutableCapacity));
    }

    public ReaderWriterLockSlim Gate { get; } = new(LockRecursionPolicy.NoRecursion);
    public List<Segment> Segments { get; } = [];
    public Dictionary<RecordKey, long> Locations { get; } = [];
    /// <summary>The live BM25 statistics (text collections with a sparse field), kept in step with every row killed or added.</summary>
    public TextStatistics? Text { get; }
    public Segment Mutable => Segments[^1];

    public static long Location(int segment, int row) => ((long)segment << 32) | (uint)row;
    public static int SegmentOf(long location) => (int)(location >> 32);
    public static int RowOf(long location) => (int)(location & 0xFFFFFFFF);

    public Segment SegmentAt(long location) => Segments[SegmentOf(location)];
    public RecordKey KeyAt(long location) => SegmentAt(location).KeyAt(RowOf(location));

    /// <summary>Tombstones the row at <paramref name="location"/> (already dead: nothing). Caller holds the write lock.</summary>
    public void KillLocked(long location)
    {
        var segment = SegmentAt(location);
        int row = RowOf(location);
        if (segment.IsDead(row)) return;
        segment.Kill(row);
        Text?.Count(segment, row, -1);
    }

    /// <summary>Counts a newly live row into the text statistics. Caller holds the write lock.</summary>
    public void CountLiveLocked(Segment segment, int row) => Text?.Count(segment, row, +1);

    /// <summary>
    /// Rewrites every location's segment index through <paramref name="map"/> (old index -> new index; -1 leaves the
    /// location as it is, for segments about to be removed). Caller holds the write lock.
    /// </summary>
    public void RemapLocked(int[] map)
    {
        var changed = new List<KeyValuePair<RecordKey, long>>();
        foreach (var entry in Locations)
        {
            int s = SegmentOf(entry.Value);
            if (map[s] >= 0 && map[s] != s) changed.Add(new(entry.Key, Location(map[s], RowOf(entry.Value))));
        }
        foreach (var entry in changed) Locations[entry.Key] = entry.Value;
    }
}
