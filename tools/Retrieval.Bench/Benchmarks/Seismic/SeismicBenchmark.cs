using System.Diagnostics;
using System.Globalization;
using Retrieval.Bench.Corpora;
using Retrieval.Bench.Datasets;
using Retrieval.Bench.Evaluation;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Formats;
using Retrieval.Index.Search;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;
using Retrieval.Query.Indexes.Seismic;

namespace Retrieval.Bench.Benchmarks.Seismic;

// About 400 lines on purpose: the three sets share one sweep loop, one report row shape and one profile pass.
/// <summary>
/// The Seismic benchmark: on each set, exact exhaustive sparse search (the ground truth), the Lucene.Net
/// 4.8 payload peer and Seismic swept over query_cut x heap_factor, side by side in one process. Sets:
/// <list type="bullet">
/// <item>passages: the 395,436 passages (BM25 document vectors from the sparse text encoder) and their queries
/// (IDF-weighted token bags);</item>
/// <item>scifact: the BEIR SciFact corpus through the same text path, with nDCG@10 from its qrels;</item>
/// <item>toy: seismic-toy's real SPLADE vectors through the JSONL reader, where a lossless Seismic build searched
/// exhaustively must reproduce exact search (reported as a note).</item>
/// </list>
/// Recall@k is tie-aware against exact search, with every returned id rescored exactly from the original float32
/// vectors. Latency is per query on one thread; QPS across cores comes from a batch run's wall time.
/// </summary>
public static class SeismicBenchmark
{
    private const int WarmupQueries = 50;
    private const double WarmupSeconds = 0.3;

    public static SeismicBenchmarkReport Run(SeismicBenchmarkOptions options, IProgress<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var clock = Stopwatch.StartNew();
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var rows = new List<SeismicBenchmarkRow>();
        var profiles = new List<SeismicProfile>();
        var notes = new List<string>();
        string work = options.WorkDirectory ?? Path.Combine(Path.GetTempPath(), "seismic-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            if (options.Datasets.Contains("toy")) RunToy(options, rows, profiles, notes, work, log);
            if (options.Datasets.Contains("scifact")) RunSciFact(options, rows, profiles, notes, work, log);
            if (options.Datasets.Contains("passages")) RunPassages(options, rows, profiles, notes, work, log);
        }
        finally
        {
            if (options.WorkDirectory is null) TryDelete(work);
        }
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        return new SeismicBenchmarkReport(rows, profiles, notes, clock.Elapsed.TotalSeconds, cpu, Environment.ProcessorCount);
    }

    private static void RunToy(SeismicBenchmarkOptions options, List<SeismicBenchmarkRow> rows, List<SeismicProfile> profiles,
        List<string> notes, string work, IProgress<string>? log)
    {
        var manifest = DatasetLocator.Open(options.ToyDataset);
        var vocabulary = BertVocabulary.BertBaseUncased;
        var docs = SeismicJsonlFile.Read(manifest.Base!.Path, vocabulary);
        var queries = SeismicJsonlFile.Read(manifest.Queries!.Path, vocabulary);
        notes.Add($"toy unknown tokens (JSONL, dropped): {docs.UnknownTokenCount} in documents, {queries.UnknownTokenCount} in queries");
        log?.Report($"toy: {docs.Count} documents, {queries.Count} queries (unknown tokens: {docs.UnknownTokenCount} in documents, {queries.UnknownTokenCount} in queries)");
        int k = Math.Min(options.K, docs.Count);
        var exact = new ExactSparseIndex(docs.Vectors).Search(queries.Vectors, k, threads: 1);
        var lossless = SeismicIndex.Build(docs.Vectors, SeismicBuildOptions.Lossless, docs.Ids)
            .Search(queries.Vectors, k, SeismicSearchParameters.Exhaustive, threads: 1);
        int mismatches = CountMismatches(exact, lossless);
        notes.Add($"toy exactness (JSONL path, lossless build, exhaustive search vs exact, k={k}): " +
            (mismatches == 0 ? "identical top-k for all queries" : $"{mismatches} rank mismatches"));
        Compare("toy", docs.Vectors, queries.Vectors, (docs.Vectors, queries.Vectors), k, SeismicBuildOptions.Default, options with { IncludeLucene = false }, null,
            rows, profiles, notes, work, log);
    }

    private static void RunSciFact(SeismicBenchmarkOptions options, List<SeismicBenchmarkRow> rows, List<SeismicProfile> profiles,
        List<string> notes, string work, IProgress<string>? log)
    {
        var location = DatasetLocator.Resolve(options.SciFactDataset);
        var beir = BeirDataset.Load(location.Directory);
        var (queryIds, queryTexts) = JudgedQueries(beir);
        var encoder = new SparseTextEncoder(threads: options.Threads);
        var clock = Stopwatch.StartNew();
        var (docs, statistics) = encoder.FitDocuments(beir.DocumentTexts(), null, null, out long unknownDocTokens);
        var queries = encoder.EncodeQueries(queryTexts, statistics, out long unknownQueryTokens);
        log?.Report($"scifact: {docs.RowCount} documents ({docs.NonZeroCount} postings), {queries.RowCount} judged queries, encoded in {clock.Elapsed.TotalSeconds:F1} s");
        notes.Add($"scifact unknown tokens ([UNK], dropped): {unknownDocTokens} in documents, {unknownQueryTokens} in queries");
        double Ndcg(SearchResults results)
        {
            var rankings = new List<QueryRanking>(queryIds.Length);
            for (int q = 0; q < queryIds.Length; q++)
            {
                var ranked = new List<string>();
                foreach (int row in results.IdsOf(q)) if (row >= 0) ranked.Add(beir.DocumentIds[row]);
                rankings.Add(new QueryRanking(queryIds[q], ranked, beir.Qrels.For(queryIds[q])));
            }
            return RankingMetrics.Evaluate(rankings, 10, 10, 10).Ndcg;
        }
        var seismicInput = options.IdfSplit
            ? (IdfSplitWeighting.Documents(docs, statistics), IdfSplitWeighting.Queries(queries, statistics))
            : (docs, queries);
        Compare("scifact", docs, queries, seismicInput, options.K, options.SciFactBuild with { KnnNeighbours = options.KnnNeighbours }, options,
            Ndcg, rows, profiles, notes, work, log);
    }

    private static void RunPassages(SeismicBenchmarkOptions options, List<SeismicBenchmarkRow> rows, List<SeismicProfile> profiles,
        List<string> notes, string work, IProgress<string>? log)
    {
        var manifest = DatasetLocator.Open(options.PassagesDataset);
        var clock = Stopwatch.StartNew();
        var passages = TsvTextFile.Read(manifest.Base!.Path);
        var queryTexts = TsvTextFile.Read(manifest.Queries!.Path);
        int n = options.MaxPassages == 0 ? passages.Count : Math.Min(options.MaxPassages, passages.Count);
        int m = options.MaxQueries == 0 ? queryTexts.Count : Math.Min(options.MaxQueries, queryTexts.Count);
        var encoder = new SparseTextEncoder(threads: options.Threads);
        var (docs, statistics) = encoder.FitDocuments(n == passages.Count ? passages.Texts : passages.Texts[..n], null, null, out long unknownDocTokens);
        var queries = encoder.EncodeQueries(queryTexts.Texts[..m], statistics, out long unknownQueryTokens);
        double encodeSeconds = clock.Elapsed.TotalSeconds;
        log?.Report($"passages: {docs.RowCount} passages ({docs.NonZeroCount} postings, {(double)docs.NonZeroCount / docs.RowCount:F1} terms each), " +
            $"{queries.RowCount} queries ({(double)queries.NonZeroCount / Math.Max(1, queries.RowCount):F1} terms each), read and encoded in {encodeSeconds:F1} s");
        notes.Add($"passages: {docs.RowCount} BM25 passage vectors, {queries.RowCount} IDF query bags; text read + encode {encodeSeconds:F1} s; " +
            $"unknown tokens ([UNK], dropped): {unknownDocTokens} in passages, {unknownQueryTokens} in queries");
        var seismicInput = options.IdfSplit
            ? (IdfSplitWeighting.Documents(docs, statistics), IdfSplitWeighting.Queries(queries, statistics))
            : (docs, queries);
        Compare("passages", docs, queries, seismicInput, options.K, options.PassagesBuild with { KnnNeighbours = options.KnnNeighbours }, options,
            null, rows, profiles, notes, work, log);
    }

    /// <summary>
    /// Exact and Lucene search <paramref name="docs"/> with <paramref name="queries"/>; Seismic searches
    /// <paramref name="seismicInput"/>, the same vectors or a score-preserving reweighting of them.
    /// </summary>
    private static void Compare(string dataset, SparseMatrix docs, SparseMatrix queries,
        (SparseMatrix Docs, SparseMatrix Queries) seismicInput, int k, SeismicBuildOptions build,
        SeismicBenchmarkOptions options, Func<SearchResults, double>? ndcg, List<SeismicBenchmarkRow> rows,
        List<SeismicProfile> profiles, List<string> notes, string work, IProgress<string>? log)
    {
        float Exact(int q, int id) => SparseDot.Dot(queries.Row(q), docs.Row(id));
        double Recall(SearchResults results, SearchResults truth) =>
            NeighborRecall.TieAwareRecallAtK(results, truth.Ids, truth.K, k, Metric.InnerProduct, Exact, 1e-5).Mean;

        // Exact: the ground truth, its batch throughput and its one-thread latency.
        var clock = Stopwatch.StartNew();
        var exact = new ExactSparseIndex(docs);
        double exactBuild = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var truth = exact.Search(queries, k, options.Threads);
        double exactBatchQps = queries.RowCount / clock.Elapsed.TotalSeconds;
        var exactOne = TimeOneThread(queries, k, (q, ids, scores) => exact.SearchOne(q, k, ids, scores));
        rows.Add(new SeismicBenchmarkRow(dataset, "exact", "-", 1.0, ndcg?.Invoke(truth), exactOne.Latency.MeanUs, exactOne.Latency.P50Us,
            exactOne.Latency.P99Us, exactOne.Qps, exactBatchQps, null, null, null, null, null, exactBuild, null));
        log?.Report($"{dataset}: exact {exactOne.Latency.MeanUs:F0} us/query on one thread, {exactBatchQps:F0} QPS batched");

        LatencyStats? luceneLatency = null;
        if (options.IncludeLucene)
        {
            var path = Path.Combine(work, "lucene-" + dataset);
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            PeakMemory.Reset();
            using var lucene = LuceneSparsePeer.Build(docs, path);
            long peak = PeakMemory.ReadBytes();
            var one = TimeOneThread(queries, k, (q, ids, scores) => lucene.SearchOne(q, k, ids, scores));
            rows.Add(new SeismicBenchmarkRow(dataset, "lucene", "payloads", Recall(one.Results, truth), ndcg?.Invoke(one.Results),
                one.Latency.MeanUs, one.Latency.P50Us, one.Latency.P99Us, one.Qps, null, null, null, null, null, lucene.IndexBytes,
                lucene.BuildSeconds, peak));
            log?.Report($"{dataset}: lucene built in {lucene.BuildSeconds:F1} s, {one.Latency.MeanUs:F0} us/query");
            luceneLatency = one.Latency;
        }

        // Every forward row order is built first, then each sweep configuration runs on each order back to back, so
        // the orders share the machine's load of the moment (their latency ratio is what the row order is judged by).
        // Each build is opened once per forward residence (memory, mapped): the same files, searched side by side.
        var variants = new List<SeismicVariant>();
        foreach (var rowOrder in options.RowOrders)
        {
            string suffix = options.RowOrders.Count > 1 ? " rows=" + RowOrderName(rowOrder) : "";
            variants.AddRange(PrepareSeismic(dataset, docs, seismicInput.Docs, build with { RowOrder = rowOrder }, suffix, options, notes, work, log));
        }
        try
        {
            SweepAndProfile(dataset, queries, seismicInput, k, build, options, ndcg, rows, profiles, notes, log, variants, truth, Recall, exactOne, luceneLatency);
        }
        finally
        {
            foreach (var v in variants) v.Index.Dispose();
        }
    }

    private static void SweepAndProfile(string dataset, SparseMatrix queries, (SparseMatrix Docs, SparseMatrix Queries) seismicInput, int k,
        SeismicBuildOptions build, SeismicBenchmarkOptions options, Func<SearchResults, double>? ndcg, List<SeismicBenchmarkRow> rows,
        List<SeismicProfile> profiles, List<string> notes, IProgress<string>? log, List<SeismicVariant> variants, SearchResults truth,
        Func<SearchResults, SearchResults, double> recallOf, OneThreadRun exactOne, LatencyStats? luceneLatency)
    {
        var clock = new Stopwatch();
        string buildConfig = build.Pruning switch
        {
            PostingPruning.FixedLambda => $"lambda={build.Lambda}",
            PostingPruning.GlobalBudget => $"avg={build.AvgPostings.ToString(CultureInfo.InvariantCulture)}",
            _ => "lossless",
        };
        foreach (int cut in options.QueryCuts)
        {
            foreach (float heap in options.HeapFactors)
                foreach (float growth in options.HeapFactorGrowths)
                {
                    foreach (var blockOrder in options.BlockOrders)
                        foreach (int expand in KnnSweep(build.KnnNeighbours, options.KnnExpands))
                        {
                            // expand -1: refinement off (the same index searched as if it had no graph).
                            bool refine = expand >= 0;
                            var p = new SeismicSearchParameters
                            {
                                QueryCut = cut,
                                HeapFactor = heap,
                                HeapFactorGrowth = growth,
                                BlockOrder = blockOrder,
                                KnnRefine = refine,
                                KnnExpand = Math.Max(0, expand),
                            };
                            string orderSuffix = (options.BlockOrders.Count > 1 || blockOrder != SeismicSearchParameters.DefaultBlockOrder
                                ? " order=" + SeismicSearchParameters.BlockOrderName(blockOrder) : "")
                                + (build.KnnNeighbours == 0 ? "" : !refine ? " knn=off"
                                    : expand == 0 || expand >= build.KnnNeighbours ? $" knn={build.KnnNeighbours}" : $" knn={expand}/{build.KnnNeighbours}");
                            foreach (var v in variants)
                            {
                                var index = v.Index;
                                var work1 = new SeismicQueryStats();
                                var one = TimeOneThread(seismicInput.Queries, k, (q, ids, scores) => index.SearchOne(q, k, p, ids, scores, ref work1),
                                    () => work1 = new SeismicQueryStats());
                                clock.Restart();
                                index.Search(seismicInput.Queries, k, p, options.Threads);
                                double batchQps = queries.RowCount / clock.Elapsed.TotalSeconds;
                                double recall = recallOf(one.Results, truth);
                                string config = $"{ConfigName(p)}{orderSuffix}{v.Suffix}";
                                rows.Add(new SeismicBenchmarkRow(dataset, "seismic", config, recall, ndcg?.Invoke(one.Results), one.Latency.MeanUs,
                                    one.Latency.P50Us, one.Latency.P99Us, one.Qps, batchQps, (double)work1.DocumentsScored / Math.Max(1, work1.Queries),
                                    index.ForwardBytes, index.ListBytes, index.SummaryBytes, v.DiskBytes, v.Stats.BuildSeconds,
                                    v.PeakBuildBytes, v.ResidentBytes));
                                double perQuery = Math.Max(1, work1.Queries);
                                string knnWork = index.KnnNeighbours > 0 && refine ? $", {work1.KnnDocumentsScored / perQuery:F0} of them graph neighbours" : "";
                                log?.Report($"{dataset}: seismic {config} ({buildConfig}): recall {recall:F4}, {one.Latency.MeanUs:F0} us/query, " +
                                    $"{work1.DocumentsScored / perQuery:F0} documents scored{knnWork}");
                                // With a graph, the runs without refinement are tracked apart: the note compares both bests.
                                var current = index.KnnNeighbours > 0 && !refine ? v.BestWithoutGraph : v.Best;
                                bool better = current is null
                                    || (recall >= 0.95 && (current.Value.Recall < 0.95 || one.Qps > current.Value.Qps))
                                    || (recall < 0.95 && current.Value.Recall < 0.95 && recall > current.Value.Recall);
                                if (better && index.KnnNeighbours > 0 && !refine) v.BestWithoutGraph = (p, recall, one.Qps, config);
                                else if (better) v.Best = (p, recall, one.Qps, config);
                            }
                        }
                }
        }
        foreach (var v in variants)
        {
            if (v.Index.ForwardResidence != ForwardIndexResidence.MemoryMapped) continue;
            long mappedResident = PeakMemory.MappedResidentBytes(Path.Combine(v.Directory, SeismicIndexFormat.ForwardFile));
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"{dataset}{v.Suffix}: after the sweep {mappedResident / 1048576.0:F1} MiB of the {v.Index.ForwardBytes / 1048576.0:F1} MiB forward index " +
                $"are mapped into this process (page cache, file-backed RSS; /proc/self/smaps Rss of forward.bin); the index holds " +
                $"{v.Index.ResidentBytes / 1048576.0:F1} MiB of its own memory (SeismicIndex.ResidentBytes)"));
        }
        foreach (var v in variants)
            foreach (var best in new[] { v.BestWithoutGraph, v.Best })
            {
                if (best is not { } chosen) continue;
                // Speed-ups as ratios within this run (same machine, same process): one-thread QPS (1 / mean latency) and p50 against exact and Lucene.
                var chosenRow = rows.Last(r => r.Dataset == dataset && r.Method == "seismic" && r.Config == chosen.Config);
                string vsLucene = luceneLatency is { } l
                    ? $"; vs Lucene {l.MeanUs / chosenRow.MeanUs:F1}x by mean, {l.P50Us / chosenRow.P50Us:F1}x by p50"
                    : "";
                notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{dataset}: fastest config with recall@{k} >= 0.95 (else the best recall): {chosenRow.Config}, recall {chosenRow.RecallAtK:F4}, " +
                    $"{chosenRow.DocumentsScoredPerQuery:F0} documents scored; " +
                    $"vs exact {exactOne.Latency.MeanUs / chosenRow.MeanUs:F1}x by mean (one-thread QPS), {exactOne.Latency.P50Us / chosenRow.P50Us:F1}x by p50{vsLucene}"));
            }
        // Profile (summary vs document time) at one configuration for every variant, the last variant's choice, so row
        // orders are compared on identical work; three interleaved passes, keeping each variant's fastest document time.
        if (variants[^1].Best is not { } profiled) return;
        var timed = profiled.Params with { CollectTimings = true };
        var fastest = new SeismicQueryStats?[variants.Count];
        var fastestMean = new double[variants.Count];
        for (int pass = 0; pass < 3; pass++)
        {
            for (int i = 0; i < variants.Count; i++)
            {
                var index = variants[i].Index;
                var s = new SeismicQueryStats();
                var one = TimeOneThread(seismicInput.Queries, k, (q, ids, scores) => index.SearchOne(q, k, timed, ids, scores, ref s),
                    () => s = new SeismicQueryStats());
                if (fastest[i] is { } f && f.DocumentSeconds <= s.DocumentSeconds) continue;
                fastest[i] = s;
                fastestMean[i] = one.Latency.MeanUs;
            }
        }
        for (int i = 0; i < variants.Count; i++)
        {
            var s = fastest[i]!.Value;
            double perQuery = fastestMean[i] / 1e6;
            double queriesDone = Math.Max(1, s.Queries);
            profiles.Add(new SeismicProfile(dataset, $"{ConfigName(timed)} order={SeismicSearchParameters.BlockOrderName(timed.BlockOrder)}{variants[i].Suffix}",
                s.SummarySeconds / queriesDone, s.DocumentSeconds / queriesDone,
                Math.Max(0, perQuery - (s.SummarySeconds + s.DocumentSeconds) / queriesDone),
                s.SummaryEntriesRead / queriesDone, s.BlocksScored / queriesDone, s.BlocksSkipped / queriesDone, s.DocumentsScored / queriesDone));
        }
    }

    /// <summary>The refinement settings swept: -1 (off) then each expansion width (0 = all kappa); just "on" without a graph.</summary>
    private static IEnumerable<int> KnnSweep(int kappa, IReadOnlyList<int> expands)
    {
        if (kappa == 0)
        {
            yield return 0;
            yield break;
        }
        yield return -1;
        foreach (int e in expands) yield return e;
    }

    private static string ConfigName(SeismicSearchParameters p) =>
        $"qc={p.QueryCut} hf={p.HeapFactor.ToString(CultureInfo.InvariantCulture)}" +
        (p.HeapFactorGrowth != 0 ? $" g={p.HeapFactorGrowth.ToString(CultureInfo.InvariantCulture)}" : "");

    private static string RowOrderName(ForwardRowOrder order) => order == ForwardRowOrder.Input ? "input" : "block-locality";

    /// <summary>A Seismic build of one sweep, opened from disk, with its build measurements and best config so far.</summary>
    private sealed class SeismicVariant(SeismicIndex index, string suffix, SeismicBuildStats stats, long diskBytes, long peakBuildBytes, long residentBytes,
        string directory)
    {
        public SeismicIndex Index => index;
        public string Directory => directory;
        public string Suffix => suffix;
        public SeismicBuildStats Stats => stats;
        public long DiskBytes => diskBytes;
        public long PeakBuildBytes => peakBuildBytes;
        public long ResidentBytes => residentBytes;
        public (SeismicSearchParameters Params, double Recall, double Qps, string Config)? Best { get; set; }
        /// <summary>With a kNN graph, the best of the runs without refinement (Best then holds the runs with it).</summary>
        public (SeismicSearchParameters Params, double Recall, double Qps, string Config)? BestWithoutGraph { get; set; }
    }

    private static List<SeismicVariant> PrepareSeismic(string dataset, SparseMatrix docs, SparseMatrix seismicDocs, SeismicBuildOptions build,
        string suffix, SeismicBenchmarkOptions options, List<string> notes, string work, IProgress<string>? log)
    {
        PeakMemory.Reset();
        var built = SeismicIndex.Build(seismicDocs, build);
        long seismicPeak = PeakMemory.ReadBytes();
        var dir = Path.Combine(work, "seismic-" + dataset + suffix.Replace(' ', '-').Replace('=', '-'));
        built.Save(dir);
        long disk = SeismicIndexFormat.DirectorySize(dir);
        var stats = built.BuildStats!;
        built = null;
        // Search the index as opened from disk (the path a server takes), measuring what opening it holds: the managed
        // heap growth across Open is the index's resident arrays; the process peak RSS during Open shows any transient.
        var opened = new List<(SeismicIndex Index, string Suffix, long ResidentBytes)>();
        foreach (var residence in options.ForwardResidences)
        {
            string name = suffix + (options.ForwardResidences.Count > 1 || residence != ForwardIndexResidence.Memory
                ? " fwd=" + SeismicOpenOptions.ResidenceName(residence) : "");
            var (opening, residentBytes, openSeconds, openPeak, anonGrowth, fileGrowth) = OpenMeasured(dir, new SeismicOpenOptions { ForwardIndex = residence });
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"{dataset}{name}: seismic index opened from disk in {openSeconds:F2} s; resident (managed heap growth) " +
                $"{residentBytes / 1048576.0:F1} MiB vs {disk / 1048576.0:F1} MiB on disk (SeismicIndex.ResidentBytes {opening.ResidentBytes / 1048576.0:F1} MiB, " +
                $"forward index {opening.ForwardBytes / 1048576.0:F1} MiB {SeismicOpenOptions.ResidenceName(residence)}); RSS growth across open: " +
                $"anonymous {anonGrowth / 1048576.0:F1} MiB, file-backed {fileGrowth / 1048576.0:F1} MiB; process peak RSS during open {openPeak / 1048576.0:F0} MiB; " +
                $"{opening.HugePageBytes / 1048576.0:F0} MiB on 2 MiB pages (forward {opening.ForwardHugePageBytes / 1048576.0:F0} MiB)"));
            opened.Add((opening, name, residentBytes));
        }
        var index = opened[0].Index;
        log?.Report($"{dataset}{suffix}: seismic built in {stats.BuildSeconds:F1} s: {stats.PostingCount} postings kept of {docs.NonZeroCount}, " +
            $"{stats.BlockCount} blocks, {stats.SummaryEntryCount} summary entries");
        if (index.KnnNeighbours > 0)
        {
            var clock = Stopwatch.StartNew();
            double graphRecall = KnnGraphRecall.Measure(index, options.GraphRecallSample, seed: 1, options.Threads);
            string line = string.Create(CultureInfo.InvariantCulture,
                $"{dataset}{suffix}: kNN graph kappa={index.KnnNeighbours} built in {stats.KnnGraphSeconds:F1} s of {stats.BuildSeconds:F1} s " +
                $"(each document searched at qc={build.KnnBuildQueryCut} hf={build.KnnBuildHeapFactor}, k=kappa+1, " +
                $"{Math.Max(1, build.Threads == 0 ? Environment.ProcessorCount : build.Threads)} threads); {index.KnnGraphBytes / 1048576.0:F1} MiB; " +
                $"graph recall@{index.KnnNeighbours} vs exact neighbours {graphRecall:F4} on {Math.Min(options.GraphRecallSample, index.Count)} sampled rows " +
                $"(measured in {clock.Elapsed.TotalSeconds:F1} s)");
            notes.Add(line);
            log?.Report(line);
        }
        return opened.Select(o => new SeismicVariant(o.Index, o.Suffix, stats, disk, seismicPeak, o.ResidentBytes, dir)).ToList();
    }

    /// <summary>Opens an index measuring managed heap growth, seconds, peak RSS, and anonymous / file-backed RSS growth (after full collections).</summary>
    private static (SeismicIndex Index, long ResidentBytes, double OpenSeconds, long PeakBytes, long AnonGrowth, long FileGrowth) OpenMeasured(
        string dir, SeismicOpenOptions openOptions)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        long anonBefore = PeakMemory.StatusBytes("RssAnon"), fileBefore = PeakMemory.StatusBytes("RssFile");
        PeakMemory.Reset();
        var clock = Stopwatch.StartNew();
        var index = SeismicIndex.Open(dir, openOptions);
        double seconds = clock.Elapsed.TotalSeconds;
        long peak = PeakMemory.ReadBytes();
        long after = GC.GetTotalMemory(forceFullCollection: true);
        return (index, after - before, seconds, peak, PeakMemory.StatusBytes("RssAnon") - anonBefore, PeakMemory.StatusBytes("RssFile") - fileBefore);
    }

    private delegate int SearchOneFn(SparseVector query, Span<int> ids, Span<float> scores);

    private sealed record OneThreadRun(SearchResults Results, LatencyStats Latency, double Qps);

    /// <summary>
    /// Times every query alone on this thread after a warm-up of at least WarmupQueries queries and WarmupSeconds
    /// (cycling over the queries, at most ten passes): the JIT promotes hot methods to optimized code only after a
    /// delay of about 100 ms, so a warm-up by count alone left the first configuration of a sweep partly on
    /// unoptimized code (a visibly higher mean and p99 than its neighbours). QPS = queries / summed latency.
    /// </summary>
    private static OneThreadRun TimeOneThread(SparseMatrix queries, int k, SearchOneFn search, Action? afterWarmup = null)
    {
        var results = new SearchResults(queries.RowCount, k);
        long warmupEnd = Stopwatch.GetTimestamp() + (long)(WarmupSeconds * Stopwatch.Frequency);
        for (int i = 0; queries.RowCount > 0 && i < 10 * queries.RowCount && (i < WarmupQueries || Stopwatch.GetTimestamp() < warmupEnd); i++)
        {
            int q = i % queries.RowCount;
            search(queries.Row(q), results.IdsOf(q), results.ScoresOf(q));
        }
        afterWarmup?.Invoke(); // work counters cover the timed pass only
        var ticks = new long[queries.RowCount];
        long total = 0;
        for (int q = 0; q < queries.RowCount; q++)
        {
            long start = Stopwatch.GetTimestamp();
            search(queries.Row(q), results.IdsOf(q), results.ScoresOf(q));
            ticks[q] = Stopwatch.GetTimestamp() - start;
            total += ticks[q];
        }
        var latency = queries.RowCount > 0 ? LatencyStats.FromStopwatchTicks(ticks) : default;
        double seconds = (double)total / Stopwatch.Frequency;
        return new OneThreadRun(results, latency, seconds > 0 ? queries.RowCount / seconds : 0);
    }

    private static int CountMismatches(SearchResults exact, SearchResults approx)
    {
        int mismatches = 0;
        for (int i = 0; i < exact.Ids.Length; i++)
        {
            if (exact.Ids[i] == approx.Ids[i]) continue;
            // A swap between equal scores is not a mismatch.
            if (exact.Ids[i] >= 0 && approx.Ids[i] >= 0 && Math.Abs(exact.Scores[i] - approx.Scores[i]) <= 1e-5f * Math.Max(1f, Math.Abs(exact.Scores[i])))
                continue;
            mismatches++;
        }
        return mismatches;
    }

    private static (string[] Ids, string[] Texts) JudgedQueries(BeirDataset dataset)
    {
        var ids = new List<string>();
        var texts = new List<string>();
        foreach (var id in dataset.Qrels.QueryIds)
        {
            if (!RankingMetrics.HasRelevant(dataset.Qrels.For(id))) continue;
            int row = dataset.Queries.RowOf(id);
            if (row < 0) throw new RetrievalException(ErrorKind.Corrupt, $"{dataset.DirectoryPath}: qrels judge query '{id}', which the queries file lacks");
            ids.Add(id);
            texts.Add(dataset.Queries.Texts[row]);
        }
        return ([.. ids], [.. texts]);
    }

    private static void TryDelete(string directory)
    {
        try { Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
