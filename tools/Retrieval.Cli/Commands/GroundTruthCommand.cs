using System.CommandLine;
using System.Diagnostics;
using Retrieval.Bench.Inputs;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;

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
        var verify = new Option<string?>("--verify")
        {
            Description = "Compare the computed neighbours with this ground-truth file (.ivecs/.ibin/.npy; a dataset's own " +
                "ground truth when the value is 'dataset') position by position: identical, exact score ties, near ties " +
                "(within 1e-4 relative, i.e. rounding in the reference) and mismatches. Exit code 1 when any mismatch remains.",
            HelpName = "FILE|dataset",
        };
        var maxQueries = CommonOptions.MaxQueries();
        var command = new Command("gt",
            "Compute exact ground truth: the top-k base ids of every query by exhaustive multi-threaded search. " +
            "Dense inputs use SIMD brute force; sparse inputs (.csr, Seismic .jsonl, Anserini topics) an in-memory " +
            "inverted index. Ties keep the lower id.")
        {
            dataset, baseFile, queries, k, metric, threads, output, scoresOut, verify, maxQueries,
        };
        host.Examples(command,
            "retrieval gt --dataset bigann10k --k 100 --out /tmp/bigann10k.gt.ivecs",
            "retrieval gt --dataset fashion-mnist --k 100 --out /tmp/fmnist.gt.ivecs --verify dataset",
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
        command.SetAction(parse =>
        {
            var progress = host.Progress(parse);
            var results = host.Results(parse);
            int? limit = parse.GetValue(maxQueries);
            var inputs = parse.GetValue(dataset) is { } name
                ? SearchInputs.FromDataset(name, loadBase: true, maxQueries: limit, progress: progress)
                : SearchInputs.FromFiles(parse.GetRequiredValue(baseFile)!, parse.GetRequiredValue(queries)!, maxQueries: limit,
                    progress: progress);
            var chosen = inputs.ResolveMetric(parse.GetValue(metric) is { } m ? MetricExtensions.ParseMetric(m) : null);
            int neighbours = parse.GetValue(k);
            Guard.ValidK(neighbours);
            var idsPath = parse.GetRequiredValue(output);
            var scoresPath = parse.GetValue(scoresOut);

            using var exact = inputs.CreateExactIndex(chosen);
            var started = Stopwatch.GetTimestamp();
            var found = GroundTruthBuilder.Compute(exact, inputs.Queries, neighbours, parse.GetValue(threads), progress);
            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;

            IntMatrixFile.Write(idsPath, new IntMatrix(found.QueryCount, found.K, found.Ids));
            if (scoresPath is not null) FloatMatrixFile.Write(scoresPath, new FloatMatrix(found.QueryCount, found.K, found.Scores));
            results.Add(new ReportLine(
            [
                new("queries", found.QueryCount),
                new("k", found.K),
                new("metric", chosen.ToName()),
                new("base_count", exact.Count),
                new("seconds", seconds),
                new("ids_file", Path.GetFullPath(idsPath)),
                new("scores_file", scoresPath is null ? null : Path.GetFullPath(scoresPath)),
            ]));
            int exitCode = ExitCodes.Success;
            if (parse.GetValue(verify) is { } verifyPath)
            {
                var reference = verifyPath == "dataset"
                    ? inputs.GroundTruth ?? throw new RetrievalException(ErrorKind.NotFound,
                        $"--verify dataset: {inputs.Description} ships no ground truth to compare with")
                    : SearchInputs.ReadGroundTruth(verifyPath, null, found.QueryCount, chosen);
                var scorer = inputs.ExactScorerFor(chosen);
                var comparison = GroundTruthComparison.Compare(found, reference, scorer);
                results.Add(new ReportLine(
                [
                    new("verify", reference.Source),
                    new("positions", comparison.Positions),
                    new("identical", comparison.Identical),
                    new("exact_ties", comparison.ExactTies),
                    new("near_ties", comparison.NearTies),
                    new("mismatches", comparison.Mismatches),
                    new("first_mismatch", comparison.Reproduces ? null : $"query {comparison.FirstMismatchQuery} rank {comparison.FirstMismatchRank}"),
                    new("reproduces", comparison.Reproduces),
                ]));
                if (!comparison.Reproduces) exitCode = ExitCodes.Failed;
            }
            results.Flush();
            return exitCode;
        });
        return command;
    }
}
