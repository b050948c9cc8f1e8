using System.CommandLine;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval gt`: exact top-k neighbours of every query, written as .ivecs ids and optional .fvecs scores.</summary>
public static class GroundTruthCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = CommonOptions.Dataset(" Supplies base, queries and metric (instead of --base/--queries).");
        var baseFile = CommonOptions.Base();
        var queries = CommonOptions.Queries();
        var k = CommonOptions.K(100);
        var metric = CommonOptions.Metric();
        var threads = CommonOptions.Threads(0, "");
        var output = new Option<string>("--out", "-o")
        {
            Description = "Output ids file (.ivecs, .ibin or .npy by extension), one row of k ids per query, best first.",
            HelpName = "FILE",
            Required = true,
        };
        var scoresOut = new Option<string?>("--scores-out")
        {
            Description = "Also write the scores (.fvecs, .fbin or .npy): squared L2 distances ascending, or ip/cosine descending.",
            HelpName = "FILE",
        };
        var maxQueries = CommonOptions.MaxQueries();
        var command = new Command("gt",
            "Compute exact ground truth: the top-k base ids of every query by exhaustive multi-threaded search. " +
            "Dense inputs use SIMD brute force; sparse inputs (.csr, Seismic .jsonl, Anserini topics) an in-memory " +
            "inverted index. Ties keep the lower id.")
        {
            dataset, baseFile, queries, k, metric, threads, output, scoresOut, maxQueries,
        };
        host.Examples(command,
            "retrieval gt --dataset bigann10k --k 100 --out /tmp/bigann10k.gt.ivecs",
            "retrieval gt --base base.fvecs --queries queries.fvecs --metric l2 --k 100 --out gt.ivecs --scores-out gt.fvecs");
        command.Validators.Add(result =>
        {
            bool hasDataset = result.GetResult(dataset) is not null;
            bool hasBase = result.GetResult(baseFile) is not null;
            bool hasQueries = result.GetResult(queries) is not null;
            if (hasDataset && (hasBase || hasQueries))
                result.AddError("--dataset supplies base and queries; do not combine it with --base/--queries");
            if (!hasDataset && !(hasBase && hasQueries))
                result.AddError("give --dataset NAME|DIR, or both --base FILE and --queries FILE");
        });
        command.SetAction(Pending.Action("gt"));
        return command;
    }
}
