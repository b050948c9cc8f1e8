using System.Runtime.InteropServices;

namespace Retrieval.Bench.Benchmarks.Kv;

/// <summary>
/// CPU time of the calling thread (Linux CLOCK_THREAD_CPUTIME_ID, nanosecond resolution). On a machine shared by
/// many jobs wall-clock latency mostly measures waiting for a core; the thread's own CPU time per query is the
/// steadier figure for comparing methods. Returns NaN where the clock is unavailable.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clockId, out TimeSpec time);

    private static readonly bool Available = OperatingSystem.IsLinux() && Probe();

    private static bool Probe()
    {
        try { return ClockGetTime(ClockThreadCpuTimeId, out _) == 0; }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    }

    /// <summary>Microseconds of CPU the calling thread has used so far, or NaN.</summary>
    public static double NowUs()
    {
        if (!Available || ClockGetTime(ClockThreadCpuTimeId, out var t) != 0) return double.NaN;
        return t.Seconds * 1e6 + t.Nanoseconds / 1e3;
    }
}
