using System.Globalization;

namespace Retrieval.Query.Engine;

/// <summary>
/// Checkpoints: persist the record store, record in engine.json which checkpoint is current and where log replay
/// starts, drop the log entries the checkpoint covers, and delete the segment directories nothing uses any more.
/// Runs periodically in the background (<see cref="EngineOptions.CheckpointInterval"/>), on demand and on close.
/// </summary>
internal sealed class EngineCheckpointer(string directory, EngineOptions options, WriteAheadLog log, RecordStore store,
    EngineCatalog catalog, EngineWriter writer, string segmentsRoot)
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;

    /// <summary>Starts the periodic checkpoints (none when the interval is zero).</summary>
    public void Start()
    {
        if (options.CheckpointInterval > TimeSpan.Zero) _loop = LoopAsync(options.CheckpointInterval);
    }

    /// <summary>Stops the periodic checkpoints, waiting for one in progress.</summary>
    public async Task StopAsync()
    {
        _stopping.Cancel();
        await _loop.ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Checkpoints with writes held off.</summary>
    public Task CheckpointAsync(CancellationToken cancellationToken) => writer.ExclusiveAsync(CheckpointLockedAsync, cancellationToken);

    /// <summary>Checkpoints; the caller holds the write gate. Does nothing once the engine is read-only.</summary>
    public async Task CheckpointLockedAsync()
    {
        if (writer.Faulted is not null) return;
        await log.CommitAsync().ConfigureAwait(false);
        long replayFrom = log.Tail;
        store.CompactLog(1L << options.StoreCompactBits);
        // Base segments first: a base index checkpoint lists rows the store checkpoint then holds (recovery revives
        // only rows the store confirms, so the other order is safe too; this one re-absorbs less after a crash).
        foreach (var collection in catalog.All()) collection.CheckpointBase();
        var token = await store.CheckpointAsync().ConfigureAwait(false);
        new EngineManifest(EngineManifest.FormatName, EngineManifest.CurrentVersion, token, replayFrom, catalog.NextCollectionId).Save(directory);
        await log.TruncateAsync(replayFrom).ConfigureAwait(false);
        DeleteUnusedSegmentDirectories();
    }

    /// <summary>
    /// Deletes segment directories no live segment uses (compacted away, dropped collections, unfinished builds).
    /// Only after a checkpoint: until then a logged attach may still need its directory for replay.
    /// </summary>
    private void DeleteUnusedSegmentDirectories()
    {
        if (!Directory.Exists(segmentsRoot)) return;
        foreach (var collectionDirectory in Directory.EnumerateDirectories(segmentsRoot))
        {
            if (!uint.TryParse(Path.GetFileName(collectionDirectory), NumberStyles.None, CultureInfo.InvariantCulture, out uint id)) continue;
            if (catalog.Get(id) is not { } collection)
            {
                SegmentFiles.TryDeleteDirectory(collectionDirectory);
                continue;
            }
            foreach (int sequence in SegmentFiles.Sequences(segmentsRoot, id))
                if (!collection.Sequences.IsReserved(sequence)) SegmentFiles.TryDeleteDirectory(SegmentFiles.SegmentDirectory(segmentsRoot, id, sequence));
        }
    }

    private async Task LoopAsync(TimeSpan interval)
    {
        try
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try { await CheckpointAsync(_stopping.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                catch (Exception e) { writer.Fault($"background checkpoint failed: {e.Message}"); }
            }
        }
        catch (OperationCanceledException) { }
    }
}
