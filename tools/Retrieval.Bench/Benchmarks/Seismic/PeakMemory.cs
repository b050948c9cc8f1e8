using System.Diagnostics;

namespace Retrieval.Bench.Benchmarks.Seismic;

/// <summary>
/// Peak resident memory of a stretch of work. On Linux the kernel's high-water mark (VmHWM) can be reset by writing
/// 5 to /proc/self/clear_refs, so the peak of one build can be read on its own; elsewhere the process-lifetime peak
/// is reported (an upper bound).
/// </summary>
internal static class PeakMemory
{
    public static bool Reset()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return false;
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    public static long ReadBytes()
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                foreach (var line in File.ReadLines("/proc/self/status"))
                {
                    if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException) { }
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }
}
