using System.Globalization;

namespace Retrieval.Bench.Campaigns;

/// <summary>
/// A cgroup v1 memory cgroup (<c>/sys/fs/cgroup/memory/NAME</c>) with a hard limit, so the kernel itself enforces
/// a memory cap on a child process: past the limit it reclaims page cache and then OOM-kills inside the group.
/// A process joins by running under <see cref="Wrap"/>, which writes the shell's pid into cgroup.procs before
/// exec'ing the real command, so every page the command ever touches is charged to the group.
/// </summary>
public sealed class MemoryCgroup : IDisposable
{
    public const string V1Root = "/sys/fs/cgroup/memory";

    private MemoryCgroup(string path, long limitBytes)
    {
        Path = path;
        LimitBytes = limitBytes;
    }

    public string Path { get; }
    public long LimitBytes { get; }

    /// <summary>Creates the group with its limit; null with <paramref name="reason"/> when no writable v1 memory controller exists here.</summary>
    public static MemoryCgroup? TryCreate(string name, long limitBytes, out string? reason)
    {
        reason = null;
        if (!OperatingSystem.IsLinux() || !File.Exists(System.IO.Path.Combine(V1Root, "memory.limit_in_bytes")))
        {
            reason = $"no cgroup v1 memory controller at {V1Root}";
            return null;
        }
        var path = System.IO.Path.Combine(V1Root, name);
        try
        {
            if (!Directory.Exists(path)) Directory.CreateDirectory(path);
            File.WriteAllText(System.IO.Path.Combine(path, "memory.limit_in_bytes"), limitBytes.ToString(CultureInfo.InvariantCulture));
            return new MemoryCgroup(path, limitBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot create memory cgroup {path}: {e.Message}";
            try { if (Directory.Exists(path)) Directory.Delete(path); } catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
            return null;
        }
    }

    /// <summary><paramref name="launcher"/> run inside this group: <c>sh -c 'echo $$ &gt; cgroup.procs &amp;&amp; exec "$@"' sh launcher...</c>.</summary>
    public IReadOnlyList<string> Wrap(IReadOnlyList<string> launcher)
    {
        var procs = System.IO.Path.Combine(Path, "cgroup.procs");
        return ["/bin/sh", "-c", $"echo $$ > '{procs}' && exec \"$@\"", "sh", .. launcher];
    }

    /// <summary>Most memory the group was charged (memory.max_usage_in_bytes; page cache included), or -1.</summary>
    public long PeakBytes => ReadLong("memory.max_usage_in_bytes");
    /// <summary>Memory charged now (page cache included), or -1.</summary>
    public long UsageBytes => ReadLong("memory.usage_in_bytes");
    /// <summary>Times the group hit its limit (the kernel then reclaimed), or -1.</summary>
    public long LimitHits => ReadLong("memory.failcnt");

    /// <summary>Processes the kernel's OOM killer killed in this group (memory.oom_control's oom_kill), or -1 when the kernel does not say.</summary>
    public long OomKills
    {
        get
        {
            try
            {
                foreach (var line in File.ReadAllLines(System.IO.Path.Combine(Path, "memory.oom_control")))
                    if (line.StartsWith("oom_kill ", StringComparison.Ordinal)) return long.Parse(line[9..], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
            return -1;
        }
    }

    private long ReadLong(string file)
    {
        try { return long.Parse(File.ReadAllText(System.IO.Path.Combine(Path, file)).Trim(), CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return -1; }
    }

    /// <summary>Removes the group (its processes must have exited; retried briefly while the kernel finishes with them).</summary>
    public void Dispose()
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                if (Directory.Exists(Path)) Directory.Delete(Path);
                return;
            }
            catch (IOException) { Thread.Sleep(100); }
            catch (UnauthorizedAccessException) { return; }
        }
    }
}
