using System.CommandLine;
using Retrieval.Cli.Hosting;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval bench`: a group of benchmarks, one subcommand per index kind (exact now; spann, seismic, kv later).</summary>
public static class BenchCommand
{
    public static Command Create(CliHost host)
    {
        var bench = new Command("bench",
            "Benchmarks that print recall next to speed, resident memory and physical limits, in one run.");
        host.Examples(bench, "retrieval bench exact --dataset minilm-passages --queries-limit 1000");
        bench.Subcommands.Add(BenchExactCommand.Create(host));
        bench.Subcommands.Add(BenchSeismicCommand.Create(host));
        bench.Subcommands.Add(BenchKvCommand.Create(host));
        bench.Subcommands.Add(BenchSpannCommand.Create(host));
        bench.Subcommands.Add(BenchEngineCommand.Create(host));
        return bench;
    }
}
