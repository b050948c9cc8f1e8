using System.CommandLine;
using Retrieval.Bench.Datasets;
using Retrieval.Bench.Evaluation;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;
using Retrieval.Query.Engine;

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
                          "cosine search over all-MiniLM-L6-v2 embeddings; hybrid: the corpus goes into an engine collection " +
                          "(embedded, or a running server with --server) and text queries are scored dense-only, sparse-only and " +
                          "fused (--fusion), one line each.",
            Required = true,
        }.AcceptOnlyFromAmong("bm25", "dense", "hybrid");
        var threads = CommonOptions.Threads(0, "Used for encoding and search.");
        var server = new Option<string?>("--server") { Description = "hybrid: run through this `retrieval serve` (e.g. http://127.0.0.1:50051) instead of an embedded engine." };
        var apiKey = new Option<string?>("--api-key") { Description = "hybrid --server: API key, default RETRIEVAL_API_KEY." };
        var data = new Option<string?>("--data") { Description = "hybrid embedded: engine data directory (default: a temporary one, deleted afterwards)." };
        var fusion = new Option<string>("--fusion") { Description = "hybrid: fusion to score beside dense and sparse.", DefaultValueFactory = _ => "rrf" }
            .AcceptOnlyFromAmong("rrf", "weighted", "both");
        var denseWeight = new Option<float>("--dense-weight") { Description = "hybrid: weight of the dense list.", DefaultValueFactory = _ => 1f };
        var sparseWeight = new Option<float>("--sparse-weight") { Description = "hybrid: weight of the sparse list.", DefaultValueFactory = _ => 1f };
        var rrfK = new Option<int>("--rrf-k") { Description = "hybrid: RRF constant.", DefaultValueFactory = _ => SearchRequest.DefaultRrfConstant };
        var candidates = new Option<int>("--candidates") { Description = "hybrid: candidates per list before fusion (0 = max(k, 100)).", DefaultValueFactory = _ => 0 };
        var denseCache = new Option<string?>("--dense-cache")
        {
            Description = "hybrid: .npy file of the corpus's MiniLM vectors, written on the first run and reused (checked) after. " +
                          "Default ~/.cache/retrieval/NAME-DOCS-all-MiniLM-L6-v2.npy.",
        };
        var noCache = new Option<bool>("--no-dense-cache") { Description = "hybrid: always encode the corpus, read and write no cache." };
        var documentsLimit = new Option<int>("--documents-limit")
        {
            Description = "hybrid: only the first N documents and the judgements on them (quick checks; not comparable to full-set figures).",
        };
        var command = new Command("eval",
            "Evaluate a retrieval mode on a BEIR dataset against its relevance judgements (test split): prints nDCG@10, MRR@10 " +
            "and recall@100 over the judged queries. Dense and hybrid modes encode the corpus with MiniLM first (minutes on " +
            "SciFact; progress on stderr); hybrid caches those vectors.")
        {
            dataset, mode, threads, server, apiKey, data, fusion, denseWeight, sparseWeight, rrfK, candidates, denseCache, noCache, documentsLimit,
        };
        host.Examples(command, "retrieval eval --dataset scifact --mode bm25", "retrieval eval --dataset scifact --mode dense --json",
            "retrieval eval --dataset scifact --mode hybrid", "retrieval eval --dataset scifact --mode hybrid --server http://127.0.0.1:50051 --fusion both");
        command.SetAction(parse =>
        {
            var modeName = parse.GetRequiredValue(mode);
            var manifest = DatasetLocator.Open(parse.GetRequiredValue(dataset)!);
            if (manifest.Kind != DatasetKind.Beir)
                throw new RetrievalException(ErrorKind.Incompatible,
                    $"dataset '{manifest.Name}' ({manifest.ManifestPath}) is a {manifest.Kind.ToName()} set; eval needs a BEIR set with corpus, queries and qrels");

            var progress = new StageProgress(host.Progress(parse));
            if (modeName == "hybrid")
            {
                var settings = new HybridSettings(parse.GetValue(server), parse.GetValue(apiKey), parse.GetValue(data), parse.GetValue(fusion) ?? "rrf",
                    parse.GetValue(denseWeight), parse.GetValue(sparseWeight), parse.GetValue(rrfK), parse.GetValue(candidates),
                    parse.GetValue(denseCache), parse.GetValue(noCache), parse.GetValue(documentsLimit), parse.GetValue(threads));
                var hybrid = RunHybrid(manifest, settings, progress).GetAwaiter().GetResult();
                progress.Finish();
                var lines = host.Results(parse);
                foreach (var search in hybrid.Searches)
                {
                    lines.Add(new EvalReport
                    {
                        NdcgAt10 = search.NdcgAt10,
                        MrrAt10 = search.MrrAt10,
                        RecallAt100 = search.RecallAt100,
                        Details =
                        [
                            new("dataset", hybrid.Dataset),
                            new("mode", search.Search.Name),
                            new("target", hybrid.Target),
                            new("queries", hybrid.QueryCount),
                            new("documents", hybrid.DocumentCount),
                            new("dense_from_cache", hybrid.DenseFromCache),
                            new("encode_documents_seconds", hybrid.EncodeDocumentsSeconds),
                            new("upsert_seconds", hybrid.UpsertSeconds),
                            new("search_seconds", search.SearchSeconds),
                        ],
                    });
                }
                lines.Flush();
                return ExitCodes.Success;
            }

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

    private sealed record HybridSettings(string? Server, string? ApiKey, string? Data, string Fusion, float DenseWeight, float SparseWeight,
        int RrfK, int Candidates, string? DenseCache, bool NoCache, int DocumentsLimit, int Threads);

    private static async Task<BeirEngineEvaluationResult> RunHybrid(DatasetManifest manifest, HybridSettings s, IProgress<EvaluationProgress> progress)
    {
        if (s.DocumentsLimit < 0) Guard.ThrowInvalid($"--documents-limit must be >= 0, got {s.DocumentsLimit}");
        if (!float.IsFinite(s.DenseWeight) || s.DenseWeight < 0) Guard.ThrowInvalid($"--dense-weight must be a finite number >= 0, got {s.DenseWeight}");
        if (!float.IsFinite(s.SparseWeight) || s.SparseWeight < 0) Guard.ThrowInvalid($"--sparse-weight must be a finite number >= 0, got {s.SparseWeight}");
        if (s.RrfK < 0) Guard.ThrowInvalid($"--rrf-k must be >= 0, got {s.RrfK}");
        if (s.Candidates < 0 || s.Candidates > 1000) Guard.ThrowInvalid($"--candidates must be in [0, 1000], got {s.Candidates}");
        if (s.Server is not null && s.Data is not null) Guard.ThrowInvalid("--data is for the embedded engine; with --server the server has its own data directory");

        var searches = new List<EvalSearch> { new("dense", SearchMode.Dense), new("sparse", SearchMode.Sparse) };
        if (s.Fusion is "rrf" or "both")
            searches.Add(new("hybrid-rrf", SearchMode.Hybrid, FusionMethod.ReciprocalRank, s.DenseWeight, s.SparseWeight, s.RrfK, s.Candidates));
        if (s.Fusion is "weighted" or "both")
            searches.Add(new("hybrid-weighted", SearchMode.Hybrid, FusionMethod.WeightedScore, s.DenseWeight, s.SparseWeight, s.RrfK, s.Candidates));

        var options = new BeirEngineEvaluationOptions
        {
            Searches = searches,
            DocumentLimit = s.DocumentsLimit,
            DenseCachePath = s.NoCache ? null : s.DenseCache,
            DefaultDenseCache = !s.NoCache,
            Threads = s.Threads,
            Progress = progress,
        };
        IBeirEvalTarget target = s.Server is not null
            ? new ServerEvalTarget(s.Server, s.ApiKey ?? NullIfEmpty(Environment.GetEnvironmentVariable("RETRIEVAL_API_KEY")))
            : new EmbeddedEvalTarget(s.Data);
        await using (target.ConfigureAwait(false))
            return await BeirEngineEvaluation.RunAsync(manifest.Directory, target, options).ConfigureAwait(false);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
