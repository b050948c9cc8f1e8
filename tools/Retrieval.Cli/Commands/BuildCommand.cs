using System.CommandLine;
using Retrieval.Cli.Hosting;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval build`: one subcommand per index kind, each writing an index directory for `search --index`.</summary>
public static class BuildCommand
{
    public static Command Create(CliHost host)
    {
        var build = new Command("build", "Build an index directory (manifest.json + versioned, checksummed files) for `retrieval search --index DIR`.");
        host.Examples(build, "retrieval build seismic --input ../shared/datasets/seismic-toy/documents.jsonl --out /tmp/seismic-toy");
        host.Examples(build, "retrieval build spann --input base.fvecs --out /tmp/spann --metric l2");
        build.Subcommands.Add(BuildSeismicCommand.Create(host));
        build.Subcommands.Add(BuildSpannCommand.Create(host));
        return build;
    }
}
