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

    /// <summary>A /proc/self/status memory field (e.g. "RssAnon", "RssFile") in bytes; 0 where unavailable.</summary>
    public static long StatusBytes(string field)
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return 0;
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith(field + ":", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException) { }
        return 0;
    }

    /// <summary>
    /// Resident bytes of this process's mappings of <paramref name="path"/> (the Rss lines of /proc/self/smaps under
    /// each mapping of that file): how much of a mapped file the process has touched and still maps. 0 where unavailable.
    /// </summary>
    public static long MappedResidentBytes(string path)
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return 0;
            string full = Path.GetFullPath(path);
            long total = 0;
            bool inside = false;
            foreach (var line in File.ReadLines("/proc/self/smaps"))
            {
                // Mapping headers start with an address range "start-end perms ..."; field lines with "Name:".
                int colon = line.IndexOf(':');
                bool header = colon < 0 || line.IndexOf(' ') < colon;
                if (header)
                {
                    inside = line.EndsWith(" " + full, StringComparison.Ordinal);
                    continue;
                }
                if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    total += long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }
            return total;
        }
        catch (IOException) { return 0; }
    }
}
