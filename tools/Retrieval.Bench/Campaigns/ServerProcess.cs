using System.Diagnostics;
using Retrieval.Index.Errors;

namespace Retrieval.Bench.Campaigns;

/// <summary>
/// `retrieval serve` as a child process (what the crash test kills): started with --port 0, ready once it prints
/// "listening on URL" on stderr. <see cref="Kill"/> is SIGKILL: no shutdown code runs.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts <paramref name="launcher"/> (e.g. ["dotnet", "/path/retrieval.dll"]) with `serve --data DIR --port 0`
    /// plus <paramref name="extraArguments"/>, and waits until it listens.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(IReadOnlyList<string> launcher, string dataDirectory, IEnumerable<string> extraArguments,
        TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var info = new ProcessStartInfo(launcher[0])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        for (int i = 1; i < launcher.Count; i++) info.ArgumentList.Add(launcher[i]);
        foreach (var a in (string[])["serve", "--data", dataDirectory, "--port", "0", "--log-level", "warning"]) info.ArgumentList.Add(a);
        foreach (var a in extraArguments) info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new RetrievalException(ErrorKind.Internal, $"could not start {launcher[0]}");
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) { ready.TrySetException(new RetrievalException(ErrorKind.Internal, $"server exited before listening: {errors}")); return; }
            lock (errors) errors.AppendLine(e.Data);
            const string marker = "listening on ";
            int at = e.Data.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                var url = e.Data[(at + marker.Length)..].Split(' ')[0];
                ready.TrySetResult(new Uri(url));
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            var address = await ready.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return new ServerProcess(process, address);
        }
        catch
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL, then wait for the process to be gone.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>Resident memory of the server process in bytes (Linux /proc), or -1 when unknown.</summary>
    public long ResidentBytes()
    {
        try
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
        catch (InvalidOperationException) { return -1; }
    }

    /// <summary>The command that runs this same `retrieval` program (the apphost, or dotnet + retrieval.dll).</summary>
    public static IReadOnlyList<string> SelfLauncher(string retrievalDll)
    {
        var host = Environment.ProcessPath;
        string dotnet = host is not null && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
        return [dotnet, retrievalDll];
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
