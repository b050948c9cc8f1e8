using System.Globalization;

namespace Retrieval.Cli.Hosting;

/// <summary>The memory limit of the cgroup this process runs in (v2 memory.max or v1 memory.limit_in_bytes), when one is set below the machine's memory.</summary>
public static class CgroupMemory
{
    public static long? LimitBytes()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            foreach (var line in File.ReadAllLines("/proc/self/cgroup"))
            {
                var parts = line.Split(':', 3);
                if (parts.Length != 3) continue;
                string? file = parts[0] == "0" && parts[1].Length == 0 ? $"/sys/fs/cgroup{parts[2]}/memory.max"
                    : parts[1].Split(',').Contains("memory") ? $"/sys/fs/cgroup/memory{parts[2]}/memory.limit_in_bytes" : null;
                if (file is null || !File.Exists(file)) continue;
                var text = File.ReadAllText(file).Trim();
                if (text == "max" || !long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long limit)) continue;
                // An unset v1 limit reads as a huge number (about 2^63): only a limit below the machine's memory is one.
                if (limit > 0 && limit < MachineBytes()) return limit;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    private static long MachineBytes()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
            var kb = line["MemTotal:".Length..].Trim().Split(' ')[0];
            return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
        }
        return long.MaxValue;
    }
}
