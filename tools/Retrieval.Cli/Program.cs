using System.CommandLine;
using Retrieval.Cli.Commands;
using Retrieval.Cli.Hosting;

namespace Retrieval.Cli;

/// <summary>Entry point of `retrieval`: assembles the commands; <see cref="Cli.Run"/> runs them.</summary>
public static class Program
{
    public static int Main(string[] args) =>
        Cli.Run(args, Console.Out, Console.Error, errorIsTerminal: !Console.IsErrorRedirected);

    public static RootCommand BuildRootCommand(CliHost host)
    {
        var root = new RootCommand(
            "retrieval: exact and approximate vector search, ground truth, evaluation and benchmarks.\n" +
            "Results go to stdout (a table, or JSON Lines with --json); progress and errors go to stderr.\n" +
            "Exit codes: 0 success, 1 bad input or data, 2 bad command line, 3 internal error.\n" +
            "Every command has --help with examples.");
        host.UseExamplesHelp(root);
        host.Examples(root,
            "retrieval search --exact --dataset datasets/fixtures/tiny-dense --k 10",
            "retrieval datasets list",
            "retrieval search --help");
        root.Options.Add(host.Json);
        root.Options.Add(host.Quiet);
        root.Subcommands.Add(DatasetsCommand.Create(host));
        root.Subcommands.Add(GroundTruthCommand.Create(host));
        root.Subcommands.Add(BuildCommand.Create(host));
        root.Subcommands.Add(SearchCommand.Create(host));
        root.Subcommands.Add(EvalCommand.Create(host));
        root.Subcommands.Add(BenchCommand.Create(host));
        root.Subcommands.Add(ServeCommand.Create(host));
        root.Subcommands.Add(ClientCommand.Create(host));
        root.Subcommands.Add(CrashTestCommand.Create(host));
        root.Subcommands.Add(LoadTestCommand.Create(host));
        root.Subcommands.Add(FuzzCommand.Create(host));
        root.Subcommands.Add(DemoCommand.Create(host));
        return root;
    }
}
