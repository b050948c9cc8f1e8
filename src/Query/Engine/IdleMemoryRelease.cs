using System.Diagnostics;

namespace Retrieval.Query.Engine;

/// <summary>
/// Gives the heap's slack back to the OS when a collection's background work has just gone idle. Index builds and
/// absorbs allocate hundreds of megabytes that are garbage once they finish, and the GC keeps those pages committed
/// (resident) until memory pressure, so a settled server looked several times bigger than what it holds. One
/// compacting, decommitting collection when the work stops fixes that; it runs at most every
/// <see cref="MinInterval"/>, so a bulk load that goes idle between every sealed segment does not pay for it each time.
/// </summary>
internal static class IdleMemoryRelease
{
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(10);
    private static long s_lastAt;

    public static void Release()
    {
        long now = Stopwatch.GetTimestamp();
        long last = Interlocked.Read(ref s_lastAt);
        if (last != 0 && Stopwatch.GetElapsedTime(last, now) < MinInterval) return;
        if (Interlocked.CompareExchange(ref s_lastAt, now, last) != last) return;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
