using System.CommandLine;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;
using Retrieval.Query.Datasets;
using Retrieval.Query.Evaluation;
using Retrieval.Query.Reporting;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval eval`: ranking quality (nDCG@10, MRR@10, recall@100) of a retrieval mode on a BEIR set.</summary>
public static class EvalCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = CommonOptions.Dataset(" Must be a BEIR set (corpus, queries, qrels), e.g. scifact.");
        dataset.Required = true;
        var mode = new Option<string>("--mode", "-m")
        {
            Description = "bm25: exact search over BM25-weighted sparse vectors of the bert-base-uncased vocabulary; dense: exact " +
                          "cosine search over all-MiniLM-L6-v2 embeddings; hybrid: fusion of both (arrives with the service issue).",
            Required = true,
        }.AcceptOnlyFromAmong("bm25", "dense", "hybrid");
        var threads = CommonOptions.Threads(0, "Used for encoding and search.");
        var command = new Command("eval",
            "Evaluate a retrieval mode on a BEIR dataset against its relevance judgements (test split): prints nDCG@10, MRR@10 " +
            "and recall@100 over the judged queries. Dense mode encodes the corpus with MiniLM first (minutes on SciFact; " +
            "progress on stderr).")
        {
            dataset, mode, threads,
        };
        host.Examples(command, "retrieval eval --dataset scifact --mode bm25", "retrieval eval --dataset scifact --mode dense --json");
        command.SetAction(parse =>
        {
            var modeName = parse.GetRequiredValue(mode);
            if (modeName == "hybrid")
                throw new RetrievalException(ErrorKind.Incompatible,
                    "--mode hybrid arrives with the service issue (hybrid fusion lives in the query service); use bm25 or dense");
            var manifest = DatasetLocator.Open(parse.GetRequiredValue(dataset)!);
            if (manifest.Kind != DatasetKind.Beir)
                throw new RetrievalException(ErrorKind.Incompatible,
                    $"dataset '{manifest.Name}' ({manifest.ManifestPath}) is a {manifest.Kind.ToName()} set; eval needs a BEIR set with corpus, queries and qrels");

            var progress = new StageProgress(host.Progress(parse));
            var result = BeirEvaluation.Run(manifest.Directory, modeName, new BeirEvaluationOptions
            {
                Threads = parse.GetValue(threads),
                Progress = progress,
            });
            progress.Finish();

            var results = host.Results(parse);
            results.Add(new EvalReport
            {
                NdcgAt10 = result.NdcgAt10,
                MrrAt10 = result.MrrAt10,
                RecallAt100 = result.RecallAt100,
                Details =
                [
                    new("dataset", result.Dataset),
                    new("mode", modeName),
                    new("queries", result.QueryCount),
                    new("documents", result.DocumentCount),
                    new("encode_documents_seconds", result.EncodeDocumentsSeconds),
                    new("encode_queries_seconds", result.EncodeQueriesSeconds),
                    new("search_seconds", result.SearchSeconds),
                ],
            });
            results.Flush();
            return ExitCodes.Success;
        });
        return command;
    }
}
