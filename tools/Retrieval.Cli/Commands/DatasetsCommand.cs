using System.CommandLine;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval datasets list|prepare`: the named datasets and the recipes that rebuild them.</summary>
public static class DatasetsCommand
{
    public static Command Create(CliHost host)
    {
        var group = new Command("datasets",
            "List the named datasets and rebuild them from their public sources.");
        host.Examples(group, "retrieval datasets list", "retrieval datasets prepare fashion-mnist --out /tmp/fashion-mnist");
        group.Subcommands.Add(CreateList(host));
        group.Subcommands.Add(CreatePrepare(host));
        return group;
    }

    private static Command CreateList(CliHost host)
    {
        var command = new Command("list",
            "List every named dataset: kind, metric, dimension, counts, licence, and where it is found on this machine " +
            "(\"-\" when it must be prepared first).");
        host.Examples(command, "retrieval datasets list", "retrieval datasets list --json");
        command.SetAction(Pending.Action("datasets list"));
        return command;
    }

    private static Command CreatePrepare(CliHost host)
    {
        var name = new Argument<string>("NAME") { Description = "Dataset name, as printed by 'retrieval datasets list'." };
        var output = new Option<string?>("--out", "-o")
        {
            Description = "Directory to write the dataset to (created if missing). Default: datasets/prepared/NAME under the current directory.",
            HelpName = "DIR",
        };
        var command = new Command("prepare",
            "Rebuild a dataset from its public source into a directory with a manifest.json (usable as --dataset DIR). " +
            "Some recipes are long (minilm-passages embeds 160,000 passages with MiniLM); progress goes to stderr.")
        {
            name, output,
        };
        host.Examples(command, "retrieval datasets prepare fashion-mnist --out /tmp/fashion-mnist");
        command.SetAction(Pending.Action("datasets prepare"));
        return command;
    }
}
