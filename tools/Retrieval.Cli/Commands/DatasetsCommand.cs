using System.CommandLine;
using Retrieval.Bench.Datasets;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Vectors;
using Retrieval.Query.Indexes;

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
        command.SetAction(parse =>
        {
            var results = host.Results(parse);
            foreach (var set in DatasetCatalog.List())
            {
                var fields = new List<ReportField>
                {
                    new("name", set.Name),
                    new("kind", set.Kind.ToName()),
                    new("metric", set.Metric?.ToName()),
                    new("dims", set.Dims),
                    new("base_count", set.BaseCount),
                    new("queries", set.QueryCount),
                    new("available", set.Available),
                    new("directory", set.Available ? set.Directory : null),
                };
                // The table stays terminal-wide; licence, description and what is missing are in the JSON lines.
                if (results.Json)
                {
                    fields.Add(new("missing_files", set.MissingFiles.Count == 0 ? null : string.Join(", ", set.MissingFiles)));
                    fields.Add(new("problem", set.Problem));
                    fields.Add(new("licence", set.Entry?.Licence));
                    fields.Add(new("source", set.Entry?.Source));
                    fields.Add(new("description", set.Description));
                }
                results.Add(new ReportLine(fields));
            }
            results.Flush();
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreatePrepare(CliHost host)
    {
        var name = new Argument<string>("NAME") { Description = "Dataset name, as printed by 'retrieval datasets list'." };
        var output = new Option<string?>("--out", "-o")
        {
            Description = "Directory to write the dataset to (created if missing). Default: NAME under $RETRIEVAL_DATA_HOME, else ~/.cache/retrieval/datasets (where --dataset NAME looks).",
            HelpName = "DIR",
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Rebuild even when the output directory already holds the complete set." };
        var rows = new Option<int?>("--rows")
        {
            Description = "minilm-2m: base rows (default 2,000,000); fewer = a seeded random sample of the full set's rows (the calibration sample is 160000). Default --out for a variant: minilm-2m-rowsN.",
            HelpName = "N",
        };
        var sigma = new Option<double?>("--sigma") { Description = "minilm-2m: per-coordinate std. dev. of the tangent noise (default: the calibrated value, see datasets/README.md).", HelpName = "S" };
        var seed = new Option<ulong?>("--seed") { Description = "minilm-2m: seed for parents, noise and the row sample.", HelpName = "N" };
        var queries = new Option<int?>("--queries") { Description = "minilm-2m: queries kept, the first N of minilm-passages' held-out queries (default 1000).", HelpName = "N" };
        var threads = new Option<int>("--threads") { Description = "Threads for exact search and embedding (0 = all cores).", DefaultValueFactory = _ => 0 };
        var command = new Command("prepare",
            "Rebuild a dataset from its public source into a directory with a manifest.json (usable as --dataset DIR). " +
            "Some recipes are long (minilm-passages embeds 160,000 passages with MiniLM); progress goes to stderr.")
        {
            name, output, overwrite, rows, sigma, seed, queries, threads,
        };
        host.Examples(command, "retrieval datasets prepare fashion-mnist --out /tmp/fashion-mnist",
            "retrieval datasets prepare minilm-2m --out /data/minilm-2m",
            "retrieval datasets prepare minilm-2m --rows 160000");
        command.SetAction(parse =>
        {
            var setName = parse.GetRequiredValue(name);
            var options = new PrepareOptions
            {
                Overwrite = parse.GetValue(overwrite),
                Rows = parse.GetValue(rows),
                Sigma = parse.GetValue(sigma),
                Seed = parse.GetValue(seed),
                QueryCount = parse.GetValue(queries),
                Threads = parse.GetValue(threads),
            };
            var directory = parse.GetValue(output) ?? DatasetRecipes.DefaultOutputDirectory(setName, options);
            var progress = new StageProgress(host.Progress(parse));
            var prepared = DatasetRecipes.Prepare(setName, directory, progress, options: options);
            progress.Finish();
            var results = host.Results(parse);
            results.Add(new ReportLine(
            [
                new("name", prepared.Name),
                new("directory", prepared.Directory),
                new("manifest", prepared.ManifestPath),
                new("seconds", prepared.Elapsed.TotalSeconds),
                new("notes", string.Join("; ", prepared.Notes)),
            ]));
            results.Flush();
            return ExitCodes.Success;
        });
        return command;
    }
}
