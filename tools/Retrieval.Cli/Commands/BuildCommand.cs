using System.CommandLine;
using Retrieval.Cli.Hosting;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval build`: one subcommand per index kind (spann now; other kinds add theirs here).</summary>
public static class BuildCommand
{
    public static Command Create(CliHost host)
    {
        var build = new Command("build", "Build an index directory (manifest.json + binary files) from a vector file.");
        host.Examples(build, "retrieval build spann --input base.fvecs --out /tmp/spann --metric l2");
        build.Subcommands.Add(BuildSpannCommand.Create(host));
        return build;
    }
}
