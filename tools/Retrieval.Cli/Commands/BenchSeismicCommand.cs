using System.CommandLine;
using System.Globalization;
using Retrieval.Bench.Benchmarks.Seismic;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Seismic;

namespace Retrieval.Cli.Commands;

/// <summary>
/// `retrieval bench seismic`: exact sparse search, the Lucene.Net payload peer and Seismic swept over
/// query_cut x heap_factor on seismic-toy (exactness), SciFact (nDCG@10) and the 395,436 passages, in one run.
/// </summary>
public static class BenchSeismicCommand
{
    public static Command Create(CliHost host)
    {
        var sets = ListOptions.Strings("--sets", ["toy", "scifact", "passages"], "Sets to run: toy, scifact, passages.", helpName: "SET,SET,...");
        var maxQueries = new Option<int>("--max-queries") { Description = "Passage queries searched and timed (0 = all 10,000).", HelpName = "N", DefaultValueFactory = _ => SeismicBenchmarkOptions.DefaultQueryCount };
        var maxPassages = new Option<int>("--max-passages") { Description = "Passages indexed (0 = all 395,436).", HelpName = "N", DefaultValueFactory = _ => 0 };
        var queryCuts = ListOptions.Ints("--query-cuts", [.. Defaults.QueryCuts], "Sweep: query_cut values.");
        var heapFactors = ListOptions.Floats("--heap-factors", [.. Defaults.HeapFactors], "Sweep: heap_factor values.");
        var heapFactorGrowths = ListOptions.Floats("--heap-factor-growths", [.. Defaults.HeapFactorGrowths], "Sweep: heap factor growths per cut position (list c skips below heap_factor x (1 + growth x c) x the k-th score).");
        var avgPostings = new Option<double?>("--avg-postings") { Description = "Passages build: global posting budget per vocabulary term (default 150).", HelpName = "AVG" };
        var maxFraction = new Option<double?>("--max-fraction") { Description = "Passages build: per-list cap as a multiple of --avg-postings (default 10).", HelpName = "F" };
        var summaryEnergy = new Option<double?>("--summary-energy") { Description = "Summary alpha for every set (default 0.4).", HelpName = "ALPHA" };
        var centroidFraction = new Option<double?>("--centroid-fraction") { Description = "Passages build: centroids per list as a fraction of its length (default 0.1).", HelpName = "F" };
        var maxBlockFactor = new Option<double?>("--max-block-factor") { Description = "Passages build: clusters above this multiple of the mean block size are cut by the list term's weight (default 1.5).", HelpName = "F" };
        var summaryMaxEntries = new Option<int?>("--summary-max-entries") { Description = "Passages build: at most N entries per block summary (default 0 = no cap).", HelpName = "N" };
        var rowOrders = ListOptions.Strings("--row-orders", ["block-locality"], "Forward row orders to build and sweep: block-locality, input.", helpName: "ORDER,ORDER,...");
        var forward = ListOptions.Strings("--forward", ["memory"], "Where each opened index keeps its forward index: memory, mapped (read in place from forward.bin via the page cache; lists and summaries stay in memory). A list (memory,mapped) opens every build both ways and runs each configuration on both back to back.", helpName: "WHERE,WHERE,...");
        var noLucene = new Option<bool>("--no-lucene") { Description = "Skip the Lucene.Net peer (its build takes minutes on the passages)." };
        var idfSplit = new Option<bool>("--idf-split") { Description = "Index the score-preserving sqrt(idf) split of the BM25 text vectors." };
        var blockOrders = new Option<string[]?>("--block-orders") { Description = "Sweep: block visiting orders: list (each list in stored order), list-best-first, global (all cut lists' blocks in one summary-score order). Default: the search default.", HelpName = "ORDER,ORDER,...", AllowMultipleArgumentsPerToken = true, CustomParser = r => [.. r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))] };
        var knn = new Option<int>("--knn") { Description = "kNN graph neighbours per document (kappa) for the passages and SciFact builds (default 0 = no graph); with a graph every configuration runs with and without refinement.", HelpName = "N", DefaultValueFactory = _ => 0 };
        var knnExpand = ListOptions.Ints("--knn-expand", [.. Defaults.KnnExpands], "With --knn: neighbours expanded per heap document, each swept (0 = all kappa).", minimum: 0);
        var knnBuildQueryCut = new Option<int?>("--knn-build-query-cut") { Description = $"With --knn: query_cut of the searches that build the graph (default {SeismicBuildOptions.DefaultKnnBuildQueryCut}).", HelpName = "N" };
        var knnBuildHeapFactor = new Option<float?>("--knn-build-heap-factor") { Description = $"With --knn: heap_factor of the searches that build the graph (default {SeismicBuildOptions.DefaultKnnBuildHeapFactor.ToString(CultureInfo.InvariantCulture)}).", HelpName = "F" };
        var graphSample = new Option<int>("--graph-recall-sample") { Description = "Rows sampled to measure the kNN graph's recall against exact neighbours (default 200).", HelpName = "N", DefaultValueFactory = _ => 200 };
        var workDir = new Option<string?>("--work-dir") { Description = "Keep the Lucene and Seismic indexes here (default: a temp folder, deleted).", HelpName = "DIR" };
        var k = CommonOptions.K(10);
        var threads = CommonOptions.Threads(0, "Threads of the batched (throughput) runs; latency is always one thread.");
        var command = new Command("seismic",
            "Seismic vs exact sparse search vs Lucene.Net 4.8 (float payloads): recall@k against exact (tie-aware), one-thread " +
            "latency (mean/p50/p99 us), QPS on one thread and across cores, documents scored per query, index bytes (forward " +
            "index, lists, summaries, disk), build seconds and peak build memory; SciFact adds nDCG@10; seismic-toy checks that " +
            "a lossless build searched exhaustively equals exact search.")
        {
            sets, maxQueries, maxPassages, queryCuts, heapFactors, heapFactorGrowths, avgPostings, maxFraction, centroidFraction, maxBlockFactor, summaryMaxEntries, summaryEnergy, rowOrders, forward, noLucene, idfSplit, blockOrders, knn, knnExpand, knnBuildQueryCut, knnBuildHeapFactor, graphSample, workDir, k, threads,
        };
        host.Examples(command,
            "retrieval bench seismic",
            "retrieval bench seismic --sets toy,scifact --no-lucene",
            "retrieval bench seismic --sets passages --max-passages 100000 --query-cuts 5 --heap-factors 0.7 --no-lucene --forward memory,mapped",
            "retrieval bench seismic --sets passages --max-queries 300 --query-cuts 5,8 --heap-factors 0.7,0.9 --json",
            "retrieval bench seismic --sets passages --query-cuts 5 --heap-factors 0.65,0.7,0.75,0.8,0.9 --threads 1 --no-lucene --knn 10");
        command.SetAction(parse =>
        {
            var progress = host.Progress(parse);
            var results = host.Results(parse);
            var defaults = new SeismicBenchmarkOptions();
            var passagesBuild = defaults.PassagesBuild;
            if (parse.GetValue(avgPostings) is double avg) passagesBuild = passagesBuild with { AvgPostings = avg };
            if (parse.GetValue(maxFraction) is double mf) passagesBuild = passagesBuild with { MaxFraction = mf };
            if (parse.GetValue(centroidFraction) is double cf) passagesBuild = passagesBuild with { CentroidFraction = cf };
            if (parse.GetValue(maxBlockFactor) is double mbf) passagesBuild = passagesBuild with { MaxBlockFactor = mbf };
            if (parse.GetValue(summaryMaxEntries) is int sme) passagesBuild = passagesBuild with { SummaryMaxEntries = sme };
            var sciFactBuild = defaults.SciFactBuild;
            if (parse.GetValue(knnBuildQueryCut) is int kqc)
            {
                passagesBuild = passagesBuild with { KnnBuildQueryCut = kqc };
                sciFactBuild = sciFactBuild with { KnnBuildQueryCut = kqc };
            }
            if (parse.GetValue(knnBuildHeapFactor) is float khf)
            {
                passagesBuild = passagesBuild with { KnnBuildHeapFactor = khf };
                sciFactBuild = sciFactBuild with { KnnBuildHeapFactor = khf };
            }
            if (parse.GetValue(summaryEnergy) is double alpha)
            {
                passagesBuild = passagesBuild with { SummaryEnergy = alpha };
                sciFactBuild = sciFactBuild with { SummaryEnergy = alpha };
            }
            var options = defaults with
            {
                Datasets = parse.GetValue(sets)!,
                MaxQueries = parse.GetValue(maxQueries),
                MaxPassages = parse.GetValue(maxPassages),
                QueryCuts = parse.GetValue(queryCuts)!,
                HeapFactors = parse.GetValue(heapFactors)!,
                HeapFactorGrowths = parse.GetValue(heapFactorGrowths)!,
                PassagesBuild = passagesBuild,
                SciFactBuild = sciFactBuild,
                IncludeLucene = !parse.GetValue(noLucene),
                RowOrders = Parse(parse.GetValue(rowOrders)!, s => s switch
                {
                    "input" => ForwardRowOrder.Input,
                    "block-locality" => ForwardRowOrder.BlockLocality,
                    _ => throw new FormatException($"--row-orders: '{s}' is not input or block-locality"),
                }),
                ForwardResidences = Parse(parse.GetValue(forward)!, s => SeismicOpenOptions.ParseResidence(s)),
                IdfSplit = parse.GetValue(idfSplit),
                BlockOrders = parse.GetValue(blockOrders) is { Length: > 0 } bo ? Parse(bo, SeismicSearchParameters.ParseBlockOrder) : defaults.BlockOrders,
                KnnNeighbours = parse.GetValue(knn),
                KnnExpands = parse.GetValue(knnExpand)!,
                GraphRecallSample = parse.GetValue(graphSample),
                WorkDirectory = parse.GetValue(workDir),
                K = parse.GetValue(k),
                Threads = parse.GetValue(threads),
            };
            var report = SeismicBenchmark.Run(options, new LogProgress(progress));
            var build = SeismicBuildOptions.Default;
            results.Add(DefaultsLine.Create("seismic",
                new("query_cut", SeismicSearchParameters.DefaultQueryCut), new("heap_factor", SeismicSearchParameters.DefaultHeapFactor),
                new("block_order", SeismicSearchParameters.DefaultBlockOrder.ToString()), new("pruning", build.Pruning.ToString()),
                new("avg_postings", build.AvgPostings), new("centroid_fraction", build.CentroidFraction),
                new("summary_energy", build.SummaryEnergy), new("knn_neighbours", build.KnnNeighbours),
                new("forward", SeismicOpenOptions.ResidenceName(SeismicOpenOptions.Default.ForwardIndex))));
            foreach (var row in report.Rows)
            {
                results.Add(new ReportLine(
                [
                    new("dataset", row.Dataset), new("index", row.Method), new("config", row.Config),
                    new("recall_at_k", row.RecallAtK), new("ndcg_at_10", row.NdcgAt10),
                    new("mean_us", row.MeanUs), new("p50_us", row.P50Us), new("p99_us", row.P99Us),
                    new("qps_one_thread", row.QpsOneThread), new("qps_all_threads", row.QpsBatch),
                    new("documents_scored_per_query", row.DocumentsScoredPerQuery),
                    new("forward_bytes", row.ForwardBytes), new("list_bytes", row.ListBytes), new("summary_bytes", row.SummaryBytes),
                    new("index_bytes_on_disk", row.DiskBytes), new("build_seconds", row.BuildSeconds), new("peak_build_rss_bytes", row.PeakBuildBytes),
                    new("index_heap_bytes", row.ResidentBytes),
                ]));
            }
            results.Flush("seismic benchmark");
            foreach (var p in report.Profiles)
                progress.Log($"profile {p.Dataset} {p.Config}: summaries {p.SummarySecondsPerQuery * 1e6:F1} us/query ({p.SummaryEntriesPerQuery:F0} entries), " +
                    $"documents {p.DocumentSecondsPerQuery * 1e6:F1} us/query ({p.DocumentsScoredPerQuery:F0} docs, {p.BlocksScoredPerQuery:F0} blocks scored, " +
                    $"{p.BlocksSkippedPerQuery:F0} skipped), other {p.OtherSecondsPerQuery * 1e6:F1} us/query");
            foreach (var note in report.Notes) progress.Log(note);
            progress.Log($"wall {report.WallSeconds:F1} s, process CPU {report.CpuSeconds:F1} s on {report.ProcessorCount} logical cores");
            return ExitCodes.Success;
        });
        return command;
    }

    private static readonly SeismicBenchmarkOptions Defaults = new();

    private static T[] Parse<T>(string[] values, Func<string, T> parse)
    {
        try
        {
            return values.Select(parse).ToArray();
        }
        catch (FormatException e)
        {
            throw new UsageException($"cannot parse the list '{string.Join(',', values)}': {e.Message}");
        }
    }
}
