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

    public WriteAheadLog(string directory, EngineOptions options)
    {
        Directory.CreateDirectory(directory);
        _path = System.IO.Path.Combine(directory, "wal");
        _device = Devices.CreateLogDevice(_path, preallocateFile: false, deleteOnClose: false);
        try
        {
            _log = new FasterLog(new FasterLogSettings
            {
                LogDevice = _device,
                PageSizeBits = options.LogPageBits,
                MemorySizeBits = options.LogMemoryBits,
                SegmentSizeBits = options.LogSegmentBits,
                LogCommitDir = System.IO.Path.Combine(directory, "commits"),
                LogChecksum = LogChecksumType.PerEntry,
                TryRecoverLatest = true,
                AutoRefreshSafeTailAddress = false,
            });
        }
        catch (Exception e) when (e is not RetrievalException)
        {
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

    public async Task WaitForCommitAsync(long untilAddress)
    {
        _log.Commit(spinWait: false);
        await _log.WaitForCommitAsync(untilAddress).ConfigureAwait(false);
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
        _device.Dispose();
    }
}
