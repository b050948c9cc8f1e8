using System.Diagnostics;
using System.Globalization;

namespace Retrieval.Bench.Reporting;

/// <summary>
/// Memory the process holds, for result lines. On Linux read from /proc/self/status (VmRSS = resident now,
/// VmHWM = peak resident, the "high water mark"), which is what `top` and cgroup limits see; elsewhere the
/// runtime's working-set figures, which are the same quantities under other names.
/// </summary>
public static class ProcessMemory
{
    private const string StatusPath = "/proc/self/status";

    /// <summary>Resident set size now, in bytes.</summary>
    public static long ResidentBytes()
    {
        if (TryReadStatusField("VmRSS", out long bytes)) return bytes;
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    /// <summary>
    /// Resident set size to subtract from a later reading to get what opening and searching an index added: a full
    /// blocking garbage collection first, so garbage left by loading the inputs is not freed inside the index's window
    /// (which would hide part of the index's cost).
    /// </summary>
    public static long ResidentBeforeOpen()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return ResidentBytes();
    }

    /// <summary>Largest resident set size since the process started, in bytes.</summary>
    public static long PeakResidentBytes()
    {
        if (TryReadStatusField("VmHWM", out long bytes)) return bytes;
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }

    private static bool TryReadStatusField(string key, out long bytes)
    {
        bytes = 0;
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return TryParseStatusField(File.ReadAllText(StatusPath), key, out bytes);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Finds "Key:   12345 kB" in /proc/[pid]/status text; the kernel always reports these in kB.</summary>
    internal static bool TryParseStatusField(string statusText, string key, out long bytes)
    {
        bytes = 0;
        foreach (var line in statusText.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith(key, StringComparison.Ordinal) || line.Length <= key.Length || line[key.Length] != ':')
                continue;
            var rest = line[(key.Length + 1)..].Trim();
            int space = rest.IndexOf(' ');
            var number = space < 0 ? rest : rest[..space];
            var unit = space < 0 ? ReadOnlySpan<char>.Empty : rest[(space + 1)..].Trim();
            if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out long value)) return false;
            long scale = unit switch
            {
                "kB" => 1024,
                "" => 1,
                "mB" => 1024 * 1024,
                _ => 0,
            };
            if (scale == 0) return false;
            bytes = value * scale;
            return true;
        }
        return false;
    }
}
