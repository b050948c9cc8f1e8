using System.Diagnostics;
using Retrieval.Bench.Corpora;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;

namespace Retrieval.Bench.Evaluation;

/// <summary>Retrieval model evaluated by <see cref="BeirEvaluation"/>.</summary>
public enum BeirMode
{
    /// <summary>BM25 through sparse vectors (<see cref="SparseTextEncoder"/>) and exact sparse search.</summary>
    Bm25,
    /// <summary>all-MiniLM-L6-v2 vectors (<see cref="MiniLmEncoder"/>) and exact cosine search.</summary>
    Dense,
}

/// <summary>Settings of a BEIR run; defaults reproduce the SciFact checks.</summary>
public sealed record BeirEvaluationOptions
{
    public static BeirEvaluationOptions Default { get; } = new();

    /// <summary>qrels/{Split}.tsv.</summary>
    public string Split { get; init; } = "test";
    public Bm25Parameters Bm25 { get; init; } = Bm25Parameters.Default;
    public MiniLmOptions MiniLm { get; init; } = MiniLmOptions.Default;
    /// <summary>Threads for encoding and search; 0 = all cores.</summary>
    public int Threads { get; init; }
    /// <summary>Stage name and items done / total, for progress displays.</summary>
    public IProgress<EvaluationProgress>? Progress { get; init; }
}

/// <summary>Progress of one stage of an evaluation run: "encode documents", "encode queries", "search".</summary>
public readonly record struct EvaluationProgress(string Stage, long Done, long Total);

/// <summary>Metrics (BEIR's nDCG@10, MRR@10, recall@100) and the wall time of each stage of one run.</summary>
public sealed record BeirEvaluationResult(
    string Dataset, BeirMode Mode, int DocumentCount, int QueryCount,
    double NdcgAt10, double MrrAt10, double RecallAt100,
    double LoadSeconds, double EncodeDocumentsSeconds, double EncodeQueriesSeconds, double SearchSeconds,
    RankingSummary Summary);

/// <summary>
/// Evaluates exact retrieval on a BEIR folder: encodes the corpus (title + " " + text, the BEIR convention) and the
/// judged queries, runs exact top-100 search, and scores the rankings with <see cref="RankingMetrics"/> against
/// qrels. Queries without a relevant judgement are left out, as BEIR (pytrec_eval) does.
/// </summary>
/// <remarks>
/// SciFact reference figures (nDCG@10): BM25 0.665 (BEIR paper), all-MiniLM-L6-v2 0.645 (MTEB). Measured values
/// and the commands behind them are in tests/Retrieval.Tests/Encoders/SciFactCheckTests.cs.
/// </remarks>
public static class BeirEvaluation
{
    public const int NdcgK = 10, MrrK = 10, RecallK = 100;

    /// <summary>Runs <paramref name="mode"/> ("bm25" or "dense") on the BEIR folder <paramref name="beirDirectory"/>.</summary>
    public static BeirEvaluationResult Run(string beirDirectory, string mode, BeirEvaluationOptions? options = null) =>
        Run(beirDirectory, ParseMode(mode), options);

    public static BeirEvaluationResult Run(string beirDirectory, BeirMode mode, BeirEvaluationOptions? options = null)
    {
        options ??= BeirEvaluationOptions.Default;
        var clock = Stopwatch.StartNew();
        var dataset = BeirDataset.Load(beirDirectory, options.Split);
        double load = clock.Elapsed.TotalSeconds;
        return Run(dataset, mode, options, load);
    }

    public static BeirEvaluationResult Run(BeirDataset dataset, BeirMode mode, BeirEvaluationOptions? options = null) =>
        Run(dataset, mode, options ?? BeirEvaluationOptions.Default, loadSeconds: 0);

    public static BeirMode ParseMode(string mode) => mode?.Trim().ToLowerInvariant() switch
    {
        "bm25" => BeirMode.Bm25,
        "dense" => BeirMode.Dense,
        _ => Guard.ThrowInvalid<BeirMode>($"unknown evaluation mode '{mode}': expected bm25 or dense"),
    };

    private static BeirEvaluationResult Run(BeirDataset dataset, BeirMode mode, BeirEvaluationOptions options, double loadSeconds)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var (queryIds, queryTexts) = JudgedQueries(dataset);
        var documents = dataset.DocumentTexts();
        var progress = options.Progress;
        double encodeDocuments, encodeQueries, search;
        SearchResults results;
        var clock = Stopwatch.StartNew();
        switch (mode)
        {
            case BeirMode.Bm25:
                {
                    var encoder = new SparseTextEncoder(threads: options.Threads);
                    var (docVectors, statistics) = encoder.FitDocuments(documents, options.Bm25,
                        Stage(progress, "encode documents", documents.Length));
                    encodeDocuments = Lap(clock);
                    var queryVectors = encoder.EncodeQueries(queryTexts, statistics);
                    encodeQueries = Lap(clock);
                    var index = new ExactSparseIndex(docVectors);
                    results = index.Search(queryVectors, RecallK, options.Threads);
                    search = Lap(clock);
                    break;
                }
            case BeirMode.Dense:
                {
                    var miniLm = options.Threads == 0 ? options.MiniLm : options.MiniLm with { Threads = options.Threads };
                    using var encoder = new MiniLmEncoder(miniLm);
                    var docVectors = encoder.Encode(documents, Stage(progress, "encode documents", documents.Length));
                    encodeDocuments = Lap(clock);
                    var queryVectors = encoder.Encode(queryTexts, Stage(progress, "encode queries", queryTexts.Length));
                    encodeQueries = Lap(clock);
                    var index = new ExactDenseIndex(docVectors, Metric.Cosine);
                    results = index.Search(queryVectors, RecallK, options.Threads);
                    search = Lap(clock);
                    break;
                }
            default:
                throw new RetrievalException(ErrorKind.InvalidInput, $"unknown evaluation mode {mode}");
        }

        var rankings = new List<QueryRanking>(queryIds.Length);
        for (int q = 0; q < queryIds.Length; q++)
        {
            var ids = results.IdsOf(q);
            var ranked = new List<string>(ids.Length);
            foreach (int row in ids)
            {
                if (row == SearchResults.MissingId) break;
                ranked.Add(dataset.DocumentIds[row]);
            }
            rankings.Add(new QueryRanking(queryIds[q], ranked, dataset.Qrels.For(queryIds[q])));
        }
        var summary = RankingMetrics.Evaluate(rankings, NdcgK, MrrK, RecallK);
        return new BeirEvaluationResult(Path.GetFileName(Path.TrimEndingDirectorySeparator(dataset.DirectoryPath)), mode,
            dataset.DocumentCount, summary.EvaluatedQueries, summary.Ndcg, summary.Mrr, summary.Recall,
            loadSeconds, encodeDocuments, encodeQueries, search, summary);
    }

    /// <summary>The queries that qrels judge relevant to something, in qrels order, with their texts.</summary>
    private static (string[] Ids, string[] Texts) JudgedQueries(BeirDataset dataset)
    {
        var ids = new List<string>();
        var texts = new List<string>();
        foreach (var id in dataset.Qrels.QueryIds)
        {
            if (!RankingMetrics.HasRelevant(dataset.Qrels.For(id))) continue;
            int row = dataset.Queries.RowOf(id);
            if (row < 0)
                throw new RetrievalException(ErrorKind.Corrupt,
                    $"{dataset.DirectoryPath}: qrels/{dataset.Split}.tsv judges query '{id}', which queries.jsonl does not contain");
            ids.Add(id);
            texts.Add(dataset.Queries.Texts[row]);
        }
        if (ids.Count == 0)
            throw new RetrievalException(ErrorKind.InvalidInput,
                $"{dataset.DirectoryPath}: qrels/{dataset.Split}.tsv judges no document relevant to any query");
        return ([.. ids], [.. texts]);
    }

    private static IProgress<long>? Stage(IProgress<EvaluationProgress>? progress, string stage, long total) =>
        progress is null ? null : new StageProgress(progress, stage, total);

    private static double Lap(Stopwatch clock)
    {
        double seconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        return seconds;
    }

    private sealed class StageProgress(IProgress<EvaluationProgress> inner, string stage, long total) : IProgress<long>
    {
        public void Report(long value) => inner.Report(new EvaluationProgress(stage, value, total));
    }
}
