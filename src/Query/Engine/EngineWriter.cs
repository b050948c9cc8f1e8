using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// The write path's ordering and durability. One writer at a time (the write gate) appends its entries to the log;
/// the commit is awaited outside the gate, and the log batches the commits of concurrent writers (group commit, see
/// <see cref="WriteAheadLog.WaitForCommitAsync"/>). Upserts are applied to memory by one dedicated applier thread,
/// in log order and while their commit is in flight, so a writer waiting for a collection's write lock (held off by
/// running searches) holds up neither the gate nor a pool thread; every other change first waits until the queued
/// upserts are applied and is then applied under the gate, so its preconditions see every earlier change. A write
/// returns once it is both applied and committed. A change is visible once applied, which may be just before its
/// commit completes: if that commit (or a queued apply) fails, memory and disk disagree, so the writer turns the
/// engine read-only (<see cref="Faulted"/>) until a restart recovers from the log.
/// </summary>
internal sealed class EngineWriter(WriteAheadLog log, WalApplier applier, Action ensureOpen)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _faulted;
    private readonly Queue<PendingApply> _applyQueue = new();
    private PendingApply? _lastQueued;
    private bool _applierRunning;

    private sealed class PendingApply(WalEntry entry)
    {
        public WalEntry Entry { get; } = entry;
        public TaskCompletionSource Applied { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

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
    /// preconditions and name the entries, appends them in order and applies them (upserts on the applier thread,
    /// anything else right here once the queued upserts are applied) and runs <paramref name="applied"/>; then waits
    /// until the log commit covers them and they are applied.
    /// </summary>
    public async Task WriteAsync(Func<IReadOnlyList<WalEntry>> entries, CancellationToken cancellationToken, Action? applied = null)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        long until = 0;
        List<Task>? queued = null;
        try
        {
            ensureOpen();
            ThrowIfFaulted();
            var list = entries();
            bool defer = applied is null && list.Count > 0;
            foreach (var entry in list) defer &= entry.Op == WalOp.Upsert;
            if (defer)
            {
                queued = new List<Task>(list.Count);
                foreach (var entry in list)
                {
                    until = log.Append(entry.Encode());
                    queued.Add(Enqueue(entry));
                }
            }
            else
            {
                await DrainAppliesAsync().ConfigureAwait(false);
                ThrowIfFaulted();
                foreach (var entry in list)
                {
                    until = log.Append(entry.Encode());
                    applier.Apply(entry);
                }
                applied?.Invoke();
            }
        }
        finally { _gate.Release(); }
        if (queued is null) await CommitAsync(until).ConfigureAwait(false);
        else
        {
            queued.Insert(0, CommitAsync(until)); // first, so a commit failure is what the caller sees
            await Task.WhenAll(queued).ConfigureAwait(false);
        }
    }

    /// <summary>Runs <paramref name="work"/> with every write held off and every logged change applied (checkpoints, shutdown).</summary>
    public async Task ExclusiveAsync(Func<Task> work, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await DrainAppliesAsync().ConfigureAwait(false);
            await work().ConfigureAwait(false);
        }
        finally { _gate.Release(); }
    }

    /// <summary>Queues an appended upsert entry for the applier thread (caller holds the gate, so the queue is in log order).</summary>
    private Task Enqueue(WalEntry entry)
    {
        var pending = new PendingApply(entry);
        lock (_applyQueue)
        {
            _applyQueue.Enqueue(pending);
            _lastQueued = pending;
            if (_applierRunning) Monitor.Pulse(_applyQueue);
            else
            {
                _applierRunning = true;
                new Thread(ApplyLoop) { IsBackground = true, Name = "retrieval-wal-applier" }.Start();
            }
        }
        return pending.Applied.Task;
    }

    /// <summary>Completes once every queued entry is applied (caller holds the gate, so none is added meanwhile).</summary>
    private async Task DrainAppliesAsync()
    {
        Task last;
        lock (_applyQueue)
        {
            if (_applyQueue.Count == 0) return;
            last = _lastQueued!.Applied.Task;
        }
        try { await last.ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException) { } // reported to its writer; the engine is faulted
    }

    /// <summary>The applier thread: applies queued entries in order; exits after a second without work.</summary>
    private void ApplyLoop()
    {
        while (true)
        {
            PendingApply next;
            lock (_applyQueue)
            {
                while (_applyQueue.Count == 0)
                {
                    if (!Monitor.Wait(_applyQueue, 1000) && _applyQueue.Count == 0)
                    {
                        _applierRunning = false;
                        return;
                    }
                }
                next = _applyQueue.Peek();
            }
            Exception? error = null;
            try { applier.Apply(next.Entry); }
            catch (Exception e) { error = e; }
            lock (_applyQueue) _applyQueue.Dequeue();
            if (error is null) next.Applied.TrySetResult();
            else
            {
                // The entry is in the log but not in memory: only a restart (replay) can reconcile them.
                Fault($"applying a logged change failed: {error.Message}");
                next.Applied.TrySetException(error);
            }
        }
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
