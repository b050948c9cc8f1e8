using System.CommandLine;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;

namespace Retrieval.Cli.Commands;

/// <summary>
/// `retrieval bench exact`: exact dense search throughput against the machine's measured memory bandwidth,
/// the physical bound of a scan that streams every base vector per query (batch).
/// </summary>
public static class BenchExactCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = CommonOptions.Dataset(" A dense set with ground truth.");
        dataset.Required = true;
        var queriesLimit = new Option<int?>("--queries-limit")
        {
            Description = "Use only the first N queries (the single-query line dominates the run time).",
            HelpName = "N",
        };
        var k = CommonOptions.K(10);
        var command = new Command("exact",
            "Measure memory bandwidth (a large sequential read, 1 thread and all threads), then exact dense search: one " +
            "thread one query at a time, one thread batched, all threads batched. Each line gives recall, latency, QPS, " +
            "resident memory, effective bytes/s (base bytes touched per second) and that rate as a fraction of the bandwidth.")
        {
            dataset, queriesLimit, k,
        };
        host.Examples(command,
            "retrieval bench exact --dataset minilm-passages --queries-limit 1000",
            "retrieval bench exact --dataset datasets/fixtures/tiny-dense --json");
        command.SetAction(Pending.Action("bench exact"));
        return command;
    }
}
