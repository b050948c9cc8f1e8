using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Query.Engine;

/// <summary>
/// Opening an engine's data: the collections are rebuilt from the record store's last checkpoint (reusing the
/// segment directories earlier runs left), then the committed log after that checkpoint is replayed.
/// </summary>
internal static class EngineRecovery
{
    /// <summary>Loads the checkpointed state into <paramref name="catalog"/> and replays the log; returns the entries replayed.</summary>
    public static long Recover(EngineManifest manifest, EngineCatalog catalog, RecordStore store, WriteAheadLog log, WalApplier applier, string segmentsRoot)
    {
        LoadStore(catalog, store, segmentsRoot);
        long replayed = 0;
        foreach (var (address, bytes) in log.ReadCommitted(manifest.ReplayFrom))
        {
            try
            {
                applier.Apply(WalEntry.Decode(bytes, address));
            }
            catch (RetrievalException e) when (e.Kind == ErrorKind.Corrupt && !e.Message.StartsWith("write-ahead log", StringComparison.Ordinal))
            {
                throw new RetrievalException(ErrorKind.Corrupt, $"write-ahead log {log.Path} entry at address {address}: {e.Message}");
            }
            replayed++;
        }
        return replayed;
    }

    /// <summary>
    /// Rebuilds the collections from the record store's checkpointed state; drops records of dropped collections.
    /// Segment directories left by earlier runs are reused: a segment row is live when the store still holds
    /// exactly the record (same bytes) it was built from, newest segment first; unreadable directories are
    /// ignored, and the records no segment claims go to the mutable segment (and are sealed and indexed again).
    /// </summary>
    private static void LoadStore(EngineCatalog catalog, RecordStore store, string segmentsRoot)
    {
        // Records are decoded as they stream past, without their dense vectors: at millions of rows the vectors would
        // not fit a memory budget, and rows an index serves never need them in the heap again.
        var pending = new List<(uint Id, RecordData Data, ulong Hash)>();
        var orphans = new List<(uint Id, RecordKey Key)>();
        store.ScanAll(
            (id, schema) => catalog.Add(id, CollectionSchema.FromJson(schema)),
            (id, bytes) => pending.Add((id, RecordCodec.Decode(bytes, withPayload: false, out _, withDense: false), ContentHash64.Of(bytes))));
        var byCollection = new Dictionary<uint, Dictionary<RecordKey, (RecordData Data, ulong Hash)>>();
        foreach (var (id, record, hash) in pending)
        {
            if (!catalog.Contains(id))
            {
                orphans.Add((id, record.Key));
                continue;
            }
            if (!byCollection.TryGetValue(id, out var map)) byCollection[id] = map = [];
            map[record.Key] = (record, hash);
        }
        pending = null;
        foreach (var (id, key) in orphans) store.DeleteRecord(id, key);
        foreach (var collection in catalog.All())
        {
            byCollection.TryGetValue(collection.Id, out var map);
            LoadCollection(collection, map ?? [], segmentsRoot, store);
        }
    }

    private static void LoadCollection(Collection collection, Dictionary<RecordKey, (RecordData Data, ulong Hash)> map, string segmentsRoot, RecordStore store)
    {
        uint id = collection.Id;
        var sequences = SegmentFiles.Sequences(segmentsRoot, id);
        var loaded = new List<Segment>();
        var claimed = new HashSet<RecordKey>();
        for (int i = sequences.Count - 1; i >= 0; i--)
        {
            Segment segment;
            try
            {
                segment = Segment.Load(SegmentFiles.SegmentDirectory(segmentsRoot, id, sequences[i]), sequences[i], collection.Schema, out _);
            }
            catch (Exception e) when (e is RetrievalException or IOException or UnauthorizedAccessException)
            {
                continue; // unfinished or damaged: its rows are rebuilt from the store (an attached one's records then fail below)
            }
            bool needsDense = collection.Schema.Dense is not null && !segment.HasDenseIndex;
            int live = 0;
            for (int r = 0; r < segment.Count; r++)
            {
                var key = segment.KeyAt(r);
                if (claimed.Contains(key) || !map.TryGetValue(key, out var stored) || stored.Hash != segment.HashAt(r)) continue;
                claimed.Add(key);
                segment.Revive(r);
                var dense = needsDense ? DenseOf(store, id, key) : null;
                segment.SetVectors(r, dense, stored.Data.Sparse, stored.Data.TextTokens);
                live++;
            }
            if (live > 0) loaded.Insert(0, segment);
            else segment.Dispose();
        }
        collection.AdoptLoaded(loaded, sequences.Count > 0 ? sequences[^1] + 1 : 0);
        foreach (var (key, stored) in map)
        {
            if (claimed.Contains(key)) continue;
            var data = collection.Schema.Dense is null ? stored.Data : stored.Data with { Dense = DenseOf(store, id, key) };
            collection.Upsert(data, stored.Hash);
        }
    }

    private static float[]? DenseOf(RecordStore store, uint collectionId, RecordKey key) =>
        store.GetRecord(collectionId, key) is { } bytes ? RecordCodec.Decode(bytes, withPayload: false).Dense : null;
}
