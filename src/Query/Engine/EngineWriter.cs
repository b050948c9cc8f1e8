using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// The write path's ordering and durability. One writer at a time (the write gate) appends its entries to the log and
/// applies them; the commit is awaited outside the gate, so concurrent writes share log commits. A change is visible
/// once applied, which may be just before its commit completes: if that commit fails, memory is ahead of the disk,
/// so the writer turns the engine read-only (<see cref="Faulted"/>) until a restart recovers from the log.
/// </summary>
internal sealed class EngineWriter(WriteAheadLog log, WalApplier applier, Action ensureOpen)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _faulted;

    /// <summary>Why the engine turned read-only, or null while it is writable.</summary>
    public string? Faulted => Volatile.Read(ref _faulted);

    /// <summary>Turns the engine read-only (the first reason given is kept).</summary>
    public void Fault(string reason) => Interlocked.CompareExchange(ref _faulted, reason, null);

    public void ThrowIfFaulted()
    {
        if (Faulted is { } reason)
            throw new RetrievalException(ErrorKind.Internal, $"engine is read-only after a failure ({reason}); restart it to recover from the log");
    }

    /// <summary>
    /// Under the write gate: checks the engine is open and writable, lets <paramref name="entries"/> check its own
    /// preconditions and name the entries, appends and applies them in order, and runs <paramref name="applied"/>;
    /// then waits until the log commit covers them.
    /// </summary>
    public async Task WriteAsync(Func<IReadOnlyList<WalEntry>> entries, CancellationToken cancellationToken, Action? applied = null)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        long until = 0;
        try
        {
            ensureOpen();
            ThrowIfFaulted();
            foreach (var entry in entries())
            {
                until = log.Append(entry.Encode());
                applier.Apply(entry);
            }
            applied?.Invoke();
        }
        finally { _gate.Release(); }
        await CommitAsync(until).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="work"/> with every write held off (checkpoints, shutdown).</summary>
    public async Task ExclusiveAsync(Func<Task> work, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try { await work().ConfigureAwait(false); }
        finally { _gate.Release(); }
    }

    private async Task CommitAsync(long until)
    {
        try
        {
            await log.WaitForCommitAsync(until).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Fault($"log commit failed: {e.Message}");
            throw new RetrievalException(ErrorKind.Internal, $"write-ahead log commit failed: {e.Message}");
        }
    }

    /// <summary>Upsert entries for a collection's encoded records, as many records per entry as the entry size limit allows.</summary>
    public static List<WalEntry> UpsertEntries(uint collectionId, List<byte[]> records, int maxEntryBytes)
    {
        var entries = new List<WalEntry>();
        var batch = new List<byte[]>();
        long batchBytes = 0;
        foreach (var bytes in records)
        {
            if (batch.Count > 0 && batchBytes + bytes.Length + 4 > maxEntryBytes - 64)
            {
                entries.Add(new WalEntry { Op = WalOp.Upsert, CollectionId = collectionId, Records = batch });
                batch = [];
                batchBytes = 0;
            }
            batch.Add(bytes);
            batchBytes += bytes.Length + 4;
        }
        if (batch.Count > 0) entries.Add(new WalEntry { Op = WalOp.Upsert, CollectionId = collectionId, Records = batch });
        return entries;
    }

    /// <summary>Delete entries for a collection's keys, 4,096 keys per entry.</summary>
    public static List<WalEntry> DeleteEntries(uint collectionId, IReadOnlyList<RecordKey> keys)
    {
        var entries = new List<WalEntry>();
        for (int start = 0; start < keys.Count; start += 4096)
        {
            var chunk = new List<RecordKey>();
            for (int i = start; i < Math.Min(keys.Count, start + 4096); i++) chunk.Add(keys[i]);
            entries.Add(new WalEntry { Op = WalOp.Delete, CollectionId = collectionId, Keys = chunk });
        }
        return entries;
    }
}
