using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets.Sources;

/// <summary>
/// Runs the system tools a recipe needs (apt-get, dpkg-deb, apt-helper) with arguments passed as a list (no
/// shell), stdout to a string or a file, and a failure turned into an error that quotes the command and its stderr.
/// Cancelling kills the process tree.
/// </summary>
internal static class ExternalCommand
{
    public static string Run(string program, IReadOnlyList<string> arguments, string? workingDirectory, CancellationToken cancellationToken,
        string? stdoutFile = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        start.Environment["LC_ALL"] = "C";

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new RetrievalException(ErrorKind.NotFound,
                $"cannot run '{program}': {e.Message}. This recipe needs a Debian system with {program} on PATH", e);
        }
        using var registration = cancellationToken.Register(() =>
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
        });

        var stderr = new StringBuilder();
        var stderrTask = Task.Run(() =>
        {
            string? line;
            while ((line = process.StandardError.ReadLine()) is not null)
            {
                lock (stderr) stderr.AppendLine(line);
            }
        });
        string stdout = "";
        if (stdoutFile is not null)
        {
            using var file = File.Create(stdoutFile);
            process.StandardOutput.BaseStream.CopyTo(file);
        }
        else
        {
            stdout = process.StandardOutput.ReadToEnd();
        }
        process.WaitForExit();
        stderrTask.Wait();
        cancellationToken.ThrowIfCancellationRequested();
        if (process.ExitCode != 0)
        {
            string err;
            lock (stderr) err = stderr.ToString().Trim();
            if (err.Length > 2000) err = "..." + err[^2000..];
            throw new RetrievalException(ErrorKind.Incompatible,
                $"'{Describe(program, arguments)}' failed with exit code {process.ExitCode}: {(err.Length > 0 ? err : stdout.Trim())}");
        }
        return stdout;
    }

    public static string Describe(string program, IReadOnlyList<string> arguments) =>
        program + " " + string.Join(' ', arguments.Select(a => a.Contains(' ') ? $"'{a}'" : a));
}
