using System.Diagnostics;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// The engine's memory cap (<see cref="EngineOptions.MemoryLimitBytes"/>): before a write adds rows, the process's
/// resident memory is compared with the cap, and past <see cref="RefuseFraction"/> of it the write is refused with
/// ResourceExhausted (after one forced, compacting collection, in case the heap only needed one). Refusing writes is
/// how the engine degrades: searches keep working, nothing acknowledged is lost, and the kernel's OOM killer never
/// has to pick the process. Resident memory is read at most every <see cref="SampleInterval"/>, so a write pays a
/// /proc read rarely.
/// </summary>
internal sealed class MemoryBudget(long limitBytes, Action<string>? log)
{
    /// <summary>Writes are refused above this fraction of the cap: the rest is headroom for builds and searches in flight.</summary>
    public const double RefuseFraction = 0.9;
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan CollectInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(30);

    private readonly object _gate = new();
    // Stopwatch timestamps of the last sample, forced collection and log line; 0 = never.
    private long _sampledAt, _collectedAt, _loggedAt;
    private long _residentBytes;
    private long _refusals;

    public long LimitBytes { get; } = limitBytes;
    /// <summary>Writes refused for memory since the engine opened.</summary>
    public long Refusals => Interlocked.Read(ref _refusals);

    /// <summary>Throws ResourceExhausted when resident memory is over <see cref="RefuseFraction"/> of the cap.</summary>
    public void ThrowIfOverBudget(string collection)
    {
        if (LimitBytes <= 0) return;
        long threshold = (long)(LimitBytes * RefuseFraction);
        long resident = Resident(force: false);
        if (resident <= threshold) return;
        lock (_gate)
        {
            long now = Stopwatch.GetTimestamp();
            if (_collectedAt == 0 || Stopwatch.GetElapsedTime(_collectedAt, now) >= CollectInterval)
            {
                _collectedAt = now;
                // Aggressive: compacts and decommits, giving freed segments back to the OS so RSS really drops.
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                resident = Resident(force: true);
                if (resident <= threshold) return;
            }
        }
        Interlocked.Increment(ref _refusals);
        string message = $"memory limit reached: the server holds {resident >> 20} MiB resident of its {LimitBytes >> 20} MiB cap " +
                         $"(writes are refused above {RefuseFraction:P0}); searches still work. Retry after background work settles, " +
                         "delete records, or raise --memory-limit";
        lock (_gate)
        {
            long now = Stopwatch.GetTimestamp();
            if (_loggedAt == 0 || Stopwatch.GetElapsedTime(_loggedAt, now) >= LogInterval)
            {
                _loggedAt = now;
                log?.Invoke($"collection '{collection}': write refused: {message}");
            }
        }
        throw new RetrievalException(ErrorKind.ResourceExhausted, message);
    }

    private long Resident(bool force)
    {
        long now = Stopwatch.GetTimestamp();
        long sampledAt = Volatile.Read(ref _sampledAt);
        if (!force && sampledAt != 0 && Stopwatch.GetElapsedTime(sampledAt, now) < SampleInterval) return Volatile.Read(ref _residentBytes);
        long resident = ReadResidentBytes();
        Volatile.Write(ref _residentBytes, resident);
        Volatile.Write(ref _sampledAt, now);
        return resident;
    }

    /// <summary>The process's resident set in bytes: /proc/self/statm on Linux, the working set elsewhere.</summary>
    public static long ReadResidentBytes()
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                var fields = File.ReadAllText("/proc/self/statm").Split(' ');
                return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;
            }
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { }
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64;
    }
}
