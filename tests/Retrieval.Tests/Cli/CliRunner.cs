using System.CommandLine;
using Retrieval.Cli.Hosting;

namespace Retrieval.Tests.Cli;

/// <summary>Runs `retrieval` in-process with captured stdout/stderr, as a user's shell would see it.</summary>
internal static class CliRunner
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    public static Outcome Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Retrieval.Cli.Cli.Run(args, stdout, stderr);
        return new Outcome(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Every command and subcommand path ("search", "bench exact", ...), from the real command tree.</summary>
    public static IEnumerable<string[]> AllCommandPaths()
    {
        var host = new CliHost(TextWriter.Null, TextWriter.Null, errorIsTerminal: false);
        var root = Retrieval.Cli.Program.BuildRootCommand(host);
        var paths = new List<string[]>();
        Walk(root, [], paths);
        return paths;
    }

    private static void Walk(Command command, string[] prefix, List<string[]> paths)
    {
        paths.Add(prefix);
        foreach (var sub in command.Subcommands) Walk(sub, [.. prefix, sub.Name], paths);
    }
}
