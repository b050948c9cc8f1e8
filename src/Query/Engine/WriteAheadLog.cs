using FASTER.core;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// The engine's write-ahead log: a FasterLog with per-entry checksums. Every change is enqueued here (in the order
/// it is applied) and acknowledged only once <see cref="WaitForCommitAsync"/> returns, i.e. once the log's commit
/// record covers it on disk. Concurrent writers share commits (group commit).
/// </summary>
internal sealed class WriteAheadLog : IDisposable
{
    private readonly IDevice _device;
    private readonly FasterLog _log;
    private readonly string _path;
    private readonly WalCommitFile _commits;
    private readonly List<TaskCompletionSource> _waiters = [];
    private bool _committing;
    private long _groupCommits;

    public WriteAheadLog(string directory, EngineOptions options)
    {
        Directory.CreateDirectory(directory);
        _path = System.IO.Path.Combine(directory, "wal");
        _device = Devices.CreateLogDevice(_path, preallocateFile: false, deleteOnClose: false);
        _commits = new WalCommitFile(System.IO.Path.Combine(directory, "commits"));
        try
        {
            _log = new FasterLog(new FasterLogSettings
            {
                LogDevice = _device,
                PageSizeBits = options.LogPageBits,
                MemorySizeBits = options.LogMemoryBits,
                SegmentSizeBits = options.LogSegmentBits,
                LogCommitManager = _commits,
                LogChecksum = LogChecksumType.PerEntry,
                TryRecoverLatest = true,
                AutoRefreshSafeTailAddress = false,
            });
        }
        catch (Exception e) when (e is not RetrievalException)
        {
            _commits.Dispose();
            _device.Dispose();
            throw new RetrievalException(ErrorKind.Corrupt, $"write-ahead log {_path} could not be recovered: {e.Message}");
        }
    }

    /// <summary>The log's file path prefix (segments are PATH.0, PATH.1, ...).</summary>
    public string Path => _path;
    public long BeginAddress => _log.BeginAddress;
    public long CommittedUntil => _log.CommittedUntilAddress;
    public long Tail => _log.TailAddress;

    /// <summary>Appends one entry; returns the address just past it (what a commit must reach to cover it).</summary>
    public long Append(byte[] entry)
    {
        _log.Enqueue(entry);
        return _log.TailAddress;
    }

    /// <summary>
    /// Completes once a log commit covers <paramref name="untilAddress"/> (an address <see cref="Append"/> returned).
    /// Group commit: at most one commit is in flight; the writers that ask meanwhile wait together for the next one,
    /// which covers the whole tail, so concurrent writers share one flush and commit record (see <see cref="Commits"/>).
    /// </summary>
    public Task WaitForCommitAsync(long untilAddress)
    {
        if (_log.CommittedUntilAddress >= untilAddress) return Task.CompletedTask;
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            _waiters.Add(waiter);
            if (_committing) return waiter.Task;
            _committing = true;
        }
        _ = Task.Run(CommitLoopAsync);
        return waiter.Task;
    }

    /// <summary>Group commits issued for waiting writers so far (each one a flush of the tail and a commit record).</summary>
    public long Commits => Interlocked.Read(ref _groupCommits);

    private async Task CommitLoopAsync()
    {
        while (true)
        {
            TaskCompletionSource[] batch;
            lock (_waiters)
            {
                if (_waiters.Count == 0)
                {
                    _committing = false;
                    return;
                }
                batch = [.. _waiters];
                _waiters.Clear();
            }
            // Every waiter appended before it registered, so a commit of the current tail covers them all.
            Exception? error = null;
            try
            {
                Interlocked.Increment(ref _groupCommits);
                await _log.CommitAsync().ConfigureAwait(false);
            }
            catch (Exception e) { error = e; }
            foreach (var waiter in batch)
            {
                if (error is null) waiter.TrySetResult();
                else waiter.TrySetException(error);
            }
        }
    }

    public Task CommitAsync() => _log.CommitAsync().AsTask();

    /// <summary>Committed entries from <paramref name="fromAddress"/> in log order: (address, bytes).</summary>
    public IEnumerable<(long Address, byte[] Entry)> ReadCommitted(long fromAddress)
    {
        long begin = Math.Max(fromAddress, _log.BeginAddress);
        long end = _log.CommittedUntilAddress;
        if (begin >= end) yield break;
        using var iterator = _log.Scan(begin, end);
        long last = begin;
        while (true)
        {
            byte[] entry;
            long address, next;
            try
            {
                if (!iterator.GetNext(out entry, out _, out address, out next)) break;
            }
            catch (Exception e) when (e is not RetrievalException)
            {
                throw new RetrievalException(ErrorKind.Corrupt,
                    $"write-ahead log {_path}: the committed entry after address {last} cannot be read ({e.Message}); the log is damaged before its commit point {end}");
            }
            last = next;
            yield return (address, entry);
            if (next >= end) break;
        }
        if (last < end)
            throw new RetrievalException(ErrorKind.Corrupt,
                $"write-ahead log {_path} ends at address {last}, but its commit record covers up to {end}; acknowledged writes are missing");
    }

    /// <summary>Drops entries before <paramref name="address"/> (they are in a record store checkpoint).</summary>
    public async Task TruncateAsync(long address)
    {
        _log.TruncateUntil(address);
        await _log.CommitAsync().ConfigureAwait(false);
    }

    public void Dispose()
    {
        _log.Dispose();
        _commits.Dispose();
        _device.Dispose();
    }
}
