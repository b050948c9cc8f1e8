using System.Diagnostics;
using Retrieval.Bench.Corpora;
using Retrieval.Index.Errors;
using Retrieval.Query.Encoders;
using Retrieval.Query.Engine;

namespace Retrieval.Bench.Evaluation;

/// <summary>Settings of <see cref="BeirEngineEvaluation.RunAsync"/>.</summary>
public sealed record BeirEngineEvaluationOptions
{
    /// <summary>qrels/{Split}.tsv.</summary>
    public string Split { get; init; } = "test";
    /// <summary>Searches to score, in order; default dense, sparse (BM25), hybrid RRF.</summary>
    public IReadOnlyList<EvalSearch> Searches { get; init; } = DefaultSearches;
    /// <summary>
    /// Use only the first N documents of the corpus (0 = all) with the judgements on them; queries left with no
    /// relevant document are dropped. For quick checks; metrics of a slice are not comparable to the full set.
    /// </summary>
    public int DocumentLimit { get; init; }
    /// <summary>.npy cache of the full corpus's MiniLM vectors (see <see cref="DenseDocumentCache"/>); null = always encode.</summary>
    public string? DenseCachePath { get; init; }
    /// <summary>Without <see cref="DenseCachePath"/>: use <see cref="DenseDocumentCache.DefaultPath"/>.</summary>
    public bool DefaultDenseCache { get; init; }
    /// <summary>Threads of the client-side document encoder; 0 = all cores.</summary>
    public int Threads { get; init; }
    /// <summary>Collection to create (and drop afterwards unless <see cref="KeepCollection"/>).</summary>
    public string CollectionName { get; init; } = "beir-eval-" + Guid.NewGuid().ToString("N")[..8];
    public bool KeepCollection { get; init; }
    public IProgress<EvaluationProgress>? Progress { get; init; }

    public static readonly IReadOnlyList<EvalSearch> DefaultSearches =
    [
        new("dense", SearchMode.Dense),
        new("sparse", SearchMode.Sparse),
        new("hybrid-rrf", SearchMode.Hybrid, FusionMethod.ReciprocalRank),
    ];
}

/// <summary>Metrics of one search of a run.</summary>
public sealed record EvalSearchResult(EvalSearch Search, double NdcgAt10, double MrrAt10, double RecallAt100, double SearchSeconds);

/// <summary>One run: corpus size, queries scored, where it ran, the time of each stage, and one result per search.</summary>
public sealed record BeirEngineEvaluationResult(
    string Dataset, string Target, int DocumentCount, int QueryCount, bool DenseFromCache,
    double LoadSeconds, double EncodeDocumentsSeconds, double UpsertSeconds, IReadOnlyList<EvalSearchResult> Searches);

/// <summary>
/// BEIR evaluation through the engine's own path: the corpus goes into a text-encoder collection (MiniLM vectors
/// computed client-side once — or read from a cache — plus text the engine turns into BM25 sparse vectors), then
/// every judged query is sent as text, and each configured search (dense, sparse, hybrid RRF / weighted) is scored
/// with nDCG@10, MRR@10 and recall@100 — all from the same collection, so the modes compare directly. The target is
/// an embedded engine or a running server (<see cref="IBeirEvalTarget"/>).
/// </summary>
public static class BeirEngineEvaluation
{
    public static async Task<BeirEngineEvaluationResult> RunAsync(string beirDirectory, IBeirEvalTarget target,
        BeirEngineEvaluationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        options ??= new BeirEngineEvaluationOptions();
        if (options.DocumentLimit < 0) Guard.ThrowInvalid($"document limit must be >= 0, got {options.DocumentLimit}");
        if (options.Searches.Count == 0) Guard.ThrowInvalid("no searches to evaluate");
        var clock = Stopwatch.StartNew();
        var dataset = BeirDataset.Load(beirDirectory, options.Split);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(dataset.DirectoryPath));
        int documents = options.DocumentLimit == 0 ? dataset.DocumentCount : Math.Min(options.DocumentLimit, dataset.DocumentCount);
        var (queryIds, queryTexts, judgements) = JudgedQueries(dataset, documents);
        double load = Lap(clock);

        var progress = options.Progress;
        string? cachePath = options.DenseCachePath ?? (options.DefaultDenseCache ? DenseDocumentCache.DefaultPath(name, dataset.DocumentCount) : null);
        var allTexts = dataset.DocumentTexts();
        Index.Vectors.DenseVectors vectors;
        bool fromCache;
        using (var encoder = new MiniLmEncoder(options.Threads == 0 ? MiniLmOptions.Default : MiniLmOptions.Default with { Threads = options.Threads }))
        {
            var encodeProgress = Stage(progress, "encode documents", documents);
            if (documents == dataset.DocumentCount)
                vectors = DenseDocumentCache.LoadOrEncode(cachePath, allTexts, encoder, encodeProgress, out fromCache);
            else if (cachePath is not null && File.Exists(cachePath))
            {
                // A slice reads the full cache (checked against the full corpus) and keeps its first rows.
                vectors = DenseDocumentCache.LoadOrEncode(cachePath, allTexts, encoder, encodeProgress, out fromCache).Slice(0, documents);
            }
            else
            {
                vectors = encoder.Encode(allTexts[..documents], encodeProgress);
                fromCache = false;
            }
        }
        double encode = Lap(clock);

        await target.CreateCollectionAsync(options.CollectionName, cancellationToken).ConfigureAwait(false);
        try
        {
            var upsertProgress = Stage(progress, "upsert", documents);
            var batch = new List<BeirDocument>(Math.Min(target.BatchSize, documents));
            for (int row = 0; row < documents; row++)
            {
                batch.Add(new BeirDocument(dataset.DocumentIds[row], vectors.Float32Row(row).ToArray(), allTexts[row]));
                if (batch.Count == target.BatchSize || row == documents - 1)
                {
                    await target.UpsertAsync(options.CollectionName, batch, cancellationToken).ConfigureAwait(false);
                    batch.Clear();
                    upsertProgress?.Report(row + 1);
                }
            }
            double upsert = Lap(clock);

            var results = new List<EvalSearchResult>(options.Searches.Count);
            foreach (var search in options.Searches)
            {
                var searchProgress = Stage(progress, "search " + search.Name, queryTexts.Length);
                var rankings = new List<QueryRanking>(queryIds.Length);
                for (int start = 0; start < queryTexts.Length; start += target.BatchSize)
                {
                    int count = Math.Min(target.BatchSize, queryTexts.Length - start);
                    var ranked = await target.SearchAsync(options.CollectionName, new ArraySegment<string>(queryTexts, start, count),
                        search, BeirEvaluation.RecallK, cancellationToken).ConfigureAwait(false);
                    if (ranked.Length != count)
                        throw new RetrievalException(ErrorKind.Internal, $"{target.Description} answered {ranked.Length} result lists for {count} queries");
                    for (int i = 0; i < count; i++)
                        rankings.Add(new QueryRanking(queryIds[start + i], ranked[i], judgements[start + i]));
                    searchProgress?.Report(start + count);
                }
                var summary = RankingMetrics.Evaluate(rankings, BeirEvaluation.NdcgK, BeirEvaluation.MrrK, BeirEvaluation.RecallK);
                results.Add(new EvalSearchResult(search, summary.Ndcg, summary.Mrr, summary.Recall, Lap(clock)));
            }
            return new BeirEngineEvaluationResult(name, target.Description, documents, queryIds.Length, fromCache,
                load, encode, upsert, results);
        }
        finally
        {
            if (!options.KeepCollection)
                await target.DropCollectionAsync(options.CollectionName, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The judged queries with a relevant document among the first <paramref name="documents"/> rows, in qrels
    /// order, with their texts and their judgements restricted to those rows.
    /// </summary>
    private static (string[] Ids, string[] Texts, IReadOnlyDictionary<string, int>[] Judgements) JudgedQueries(BeirDataset dataset, int documents)
    {
        var ids = new List<string>();
        var texts = new List<string>();
        var judgements = new List<IReadOnlyDictionary<string, int>>();
        bool slice = documents < dataset.DocumentCount;
        foreach (var id in dataset.Qrels.QueryIds)
        {
            IReadOnlyDictionary<string, int> grades = dataset.Qrels.For(id);
            if (slice)
            {
                var kept = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var (doc, grade) in grades)
                {
                    int row = dataset.DocumentRow(doc);
                    if (row >= 0 && row < documents) kept[doc] = grade;
                }
                grades = kept;
            }
            if (!RankingMetrics.HasRelevant(grades)) continue;
            int queryRow = dataset.Queries.RowOf(id);
            if (queryRow < 0)
                throw new RetrievalException(ErrorKind.Corrupt,
                    $"{dataset.DirectoryPath}: qrels/{dataset.Split}.tsv judges query '{id}', which queries.jsonl does not contain");
            ids.Add(id);
            texts.Add(dataset.Queries.Texts[queryRow]);
            judgements.Add(grades);
        }
        if (ids.Count == 0)
            throw new RetrievalException(ErrorKind.InvalidInput,
                $"{dataset.DirectoryPath}: qrels/{dataset.Split}.tsv judges no document{(slice ? $" among the first {documents}" : "")} relevant to any query");
        return ([.. ids], [.. texts], [.. judgements]);
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
