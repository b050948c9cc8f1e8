using System.CommandLine;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;

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
            Description = "bm25: exact search over BM25-weighted sparse vectors; dense: exact MiniLM cosine search; " +
                          "hybrid: fusion of both (arrives with the service issue).",
            Required = true,
        }.AcceptOnlyFromAmong("bm25", "dense", "hybrid");
        var command = new Command("eval",
            "Evaluate a retrieval mode on a BEIR dataset against its relevance judgements: prints nDCG@10, MRR@10 " +
            "and recall@100. Dense mode encodes the corpus with MiniLM first (minutes on SciFact; progress on stderr).")
        {
            dataset, mode,
        };
        host.Examples(command, "retrieval eval --dataset scifact --mode bm25", "retrieval eval --dataset scifact --mode dense --json");
        command.SetAction(parse =>
        {
            var modeName = parse.GetRequiredValue(mode);
            if (modeName == "hybrid")
                throw new RetrievalException(ErrorKind.Incompatible,
                    "--mode hybrid arrives with the service issue (hybrid fusion lives in the query service); use bm25 or dense");
            return Pending.Action("eval")(parse);
        });
        return command;
    }
}
