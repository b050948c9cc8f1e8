using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Query.Engine;

/// <summary>
/// Applies logged changes to memory (the catalog and its collections' segments) and to the record store, in log
/// order: for live writes right after they are appended, and for the entries replayed on open. Every change is
/// idempotent, because replay can cover changes the record store's checkpoint already holds.
/// </summary>
internal sealed class WalApplier(EngineCatalog catalog, RecordStore store, string segmentsRoot)
{
    public void Apply(WalEntry entry)
    {
        switch (entry.Op)
        {
            case WalOp.CreateCollection:
                if (catalog.Add(entry.CollectionId, CollectionSchema.FromJson(entry.Schema)) is null) return;
                store.PutSchema(entry.CollectionId, entry.Schema!);
                return;
            case WalOp.DropCollection:
                if (catalog.Remove(entry.CollectionId) is not { } dropped) return;
                // Its index files close now; its segment directories go at the next checkpoint.
                dropped.DisposeSegments();
                // The dropped collection's records stay in the store until the next open discards them by id.
                store.DeleteSchema(entry.CollectionId);
                return;
            case WalOp.Upsert:
                if (catalog.Get(entry.CollectionId) is { } upserted) ApplyUpsert(upserted, entry.Records!);
                return;
            case WalOp.Attach:
                if (catalog.Get(entry.CollectionId) is { } attached) ApplyAttach(attached, entry.Sequence);
                return;
            case WalOp.Delete:
                if (catalog.Get(entry.CollectionId) is not { } collection) return;
                foreach (var key in entry.Keys!)
                {
                    store.DeleteRecord(collection.Id, key);
                    collection.Delete(key);
                }
                return;
        }
    }

    private void ApplyUpsert(Collection collection, List<byte[]> records)
    {
        // Decode every record before applying any, so a damaged entry is never half-applied.
        var decoded = new RecordData[records.Count];
        for (int i = 0; i < decoded.Length; i++) decoded[i] = RecordCodec.Decode(records[i], withPayload: false);
        for (int i = 0; i < decoded.Length; i++)
        {
            store.PutRecord(collection.Id, decoded[i].Key, records[i]);
            collection.Upsert(decoded[i], ContentHash64.Of(records[i]));
        }
    }

    /// <summary>Makes an attached segment's rows live: the segment is loaded from its directory unless already in memory.</summary>
    private void ApplyAttach(Collection collection, int sequence)
    {
        var directory = SegmentFiles.SegmentDirectory(segmentsRoot, collection.Id, sequence);
        Segment? segment = collection.FindSegment(sequence);
        byte[][]? records;
        try
        {
            if (segment is null) segment = Segment.Load(directory, sequence, collection.Schema, out records);
            else records = SegmentFiles.ReadRecords(directory, segment.Count);
        }
        catch (Exception e) when (e is RetrievalException or IOException or UnauthorizedAccessException)
        {
            throw new RetrievalException(ErrorKind.Corrupt, $"attached segment {directory} cannot be read: {e.Message}");
        }
        if (records is null) throw new RetrievalException(ErrorKind.Corrupt, $"segment {directory} is not an attached segment");
        for (int r = 0; r < records.Length; r++) store.PutRecord(collection.Id, segment.KeyAt(r), records[r]);
        collection.Attach(segment);
    }
}
