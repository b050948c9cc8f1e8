using System.CommandLine;
using Retrieval.Bench.Inputs;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;
using Retrieval.Query.Indexes;

namespace Retrieval.Cli.Commands;

/// <summary>
/// `retrieval search`: runs a query set against exact search or an index directory and prints one
/// SearchReport per setting (the output contract every index keeps).
/// </summary>
public static class SearchCommand
{
    public static Command Create(CliHost host)
    {
        var exact = new Option<bool>("--exact")
        {
            Description = "Search exhaustively (multi-threaded SIMD brute force over the base vectors): the reference every index is measured against.",
        };
        var index = new Option<string?>("--index")
        {
            Description = "Search an index directory (its manifest.json names the index format).",
            HelpName = "DIR",
        };
        var dataset = CommonOptions.Dataset(" Supplies base, queries, ground truth and metric.");
        var baseFile = CommonOptions.Base();
        var queries = CommonOptions.Queries();
        var gt = new Option<string?>("--gt")
        {
            Description = "Ground-truth neighbour ids (.ivecs .ibin .npy), best first; enables recall_at_k.",
            HelpName = "FILE",
        };
        var gtScores = new Option<string?>("--gt-scores")
        {
            Description = "Ground-truth scores (.fvecs .fbin .npy) matching --gt; makes recall tie-aware (a returned id " +
                          "scoring the same as the k-th true neighbour counts as a hit).",
            HelpName = "FILE",
        };
        var k = CommonOptions.K(10);
        var metric = CommonOptions.Metric();
        var threads = CommonOptions.Threads(1,
            "With 1, each query is searched alone and timed (latency percentiles); with more, queries are searched in " +
            "batches across threads and only throughput (qps) is measured.");
        var exactBaseline = new Option<bool>("--exact-baseline")
        {
            Description = "With --index: also run exact search over the same base and queries in this run and print its line " +
                          "(\"index\":\"exact\"), so speed-ups are ratios from one run.",
        };
        var sweep = new Option<bool>("--sweep")
        {
            Description = "Run the index's range of search settings and print one line per setting (settings included in each line).",
        };
        var maxQueries = CommonOptions.MaxQueries();
        var spannOptions = new SpannSearchOptions();
        var queryCut = new Option<int?>("--query-cut")
        {
            Description = "Seismic: visit the lists of this many heaviest query terms (default 10).",
            HelpName = "N",
        };
        var heapFactor = new Option<float?>("--heap-factor")
        {
            Description = "Seismic: skip a block when its summary score is below heap_factor x the k-th best score (default 0.7; 0 never skips).",
            HelpName = "F",
        };
        var heapFactorGrowth = new Option<float?>("--heap-factor-growth")
        {
            Description = "Seismic: the list at position c of the query cut uses heap_factor x (1 + growth x c) (default 0: one factor for all lists).",
            HelpName = "G",
        };
        var blockOrder = new Option<string?>("--block-order")
        {
            Description = "Seismic: block visiting order: list (default: each list in stored order), list-best-first, global (all cut lists' blocks in one summary-score order).",
            HelpName = "ORDER",
        };
        var noKnnRefine = new Option<bool>("--no-knn-refine")
        {
            Description = "Seismic: skip the kNN-graph refinement step (on by default when the index was built with --knn).",
        };
        var knnExpand = new Option<int?>("--knn-expand")
        {
            Description = "Seismic: graph neighbours expanded per top-k document in the refinement step (default 0 = all the index stores).",
            HelpName = "N",
        };
        var queryText = new Option<string?>("--query-text")
        {
            Description = "Seismic index built from text: query texts (id<TAB>text per line, .tsv[.gz]) encoded with the index's corpus statistics; no recall without ground truth.",
            HelpName = "FILE",
        };

        var command = new Command("search",
            "Search a query set and print recall@k, latency (mean/p50/p95/p99 in microseconds), QPS, resident memory, " +
            "index size on disk and bytes read per query. Fields that do not apply are null.")
        {
            exact, index, dataset, baseFile, queries, gt, gtScores, k, metric, threads, exactBaseline, sweep, maxQueries,
            queryCut, heapFactor, heapFactorGrowth, blockOrder, noKnnRefine, knnExpand, queryText,
        };
        spannOptions.AddTo(command);

        host.Examples(command,
            "retrieval search --exact --dataset datasets/fixtures/tiny-dense --k 10",
            "retrieval search --exact --base base.fvecs --queries queries.fvecs --gt gt.ivecs --metric l2 --json",
            "retrieval search --exact --dataset minilm-passages --threads 0 --max-queries 1000",
            "retrieval search --index /tmp/spann --dataset minilm-passages --exact-baseline --sweep",
            "retrieval search --index /tmp/seismic-passages --query-text ../shared/datasets/passages/queries.tsv.gz --query-cut 5 --heap-factor 0.7");
        command.Validators.Add(result =>
        {
            bool isExact = result.GetValue(exact);
            bool hasIndex = result.GetResult(index) is not null;
            bool hasDataset = result.GetResult(dataset) is not null;
            bool hasFiles = result.GetResult(baseFile) is not null || result.GetResult(queries) is not null ||
                            result.GetResult(gt) is not null || result.GetResult(gtScores) is not null;
            if (isExact == hasIndex) result.AddError("give exactly one of --exact or --index DIR");
            if (hasDataset && hasFiles)
                result.AddError("--dataset supplies base, queries and ground truth; do not combine it with --base/--queries/--gt/--gt-scores");
            bool hasText = result.GetResult(queryText) is not null;
            if (hasText && (hasDataset || hasFiles || isExact || result.GetValue(exactBaseline)))
                result.AddError("--query-text searches a text-built Seismic --index on its own; drop --dataset/--base/--queries/--gt/--exact/--exact-baseline");
            if (!hasDataset && !hasText && result.GetResult(queries) is null)
                result.AddError("give --dataset NAME|DIR, or --queries FILE (plus --base FILE for exact search)");
            if (!hasDataset && result.GetResult(baseFile) is null && (isExact || result.GetValue(exactBaseline)))
                result.AddError("exact search needs base vectors: give --base FILE or --dataset");
            if (result.GetResult(gtScores) is not null && result.GetResult(gt) is null)
                result.AddError("--gt-scores needs --gt (the ids the scores belong to)");
            if (isExact && result.GetValue(exactBaseline))
                result.AddError("--exact-baseline compares an --index with exact search; drop it when searching with --exact");
        });

        command.SetAction(parse =>
        {
            var progress = host.Progress(parse);
            var results = host.Results(parse);
            var indexDir = parse.GetValue(index);
            int? limit = parse.GetValue(maxQueries);
            int? cut = parse.GetValue(queryCut);
            float? heap = parse.GetValue(heapFactor);
            float? growth = parse.GetValue(heapFactorGrowth);
            SeismicBlockOrder? order = parse.GetValue(blockOrder) is { } orderName ? SeismicSearchParameters.ParseBlockOrder(orderName) : null;
            var flags = new SeismicParameterFlags(cut, heap, growth, order, parse.GetValue(noKnnRefine) ? false : null, parse.GetValue(knnExpand));
            if (parse.GetValue(queryText) is { } textPath)
            {
                using var opened = IndexRegistry.Default.Open(indexDir!);
                if (opened is not Retrieval.Query.Indexes.Seismic.SeismicSearchIndex seismicText)
                    throw new RetrievalException(ErrorKind.Incompatible, $"--query-text needs a Seismic index built from text; {indexDir} holds a {opened.Kind} index");
                var texts = Retrieval.Bench.Corpora.TsvTextFile.Read(textPath);
                var textQueries = seismicText.EncodeQueryTexts(limit is int n && n < texts.Count ? texts.Texts[..n] : texts.Texts, out long unknownTokens);
                progress.Log($"{textQueries.Count} query texts encoded; unknown tokens ([UNK], dropped): {unknownTokens}");
                var textRun = new SearchRun(parse.GetValue(k), parse.GetValue(threads), null, progress);
                foreach (var setting in SettingsFor(seismicText, parse.GetValue(sweep), flags))
                    results.Add(textRun.Measure(seismicText, textQueries, setting));
                results.Flush();
                return ExitCodes.Success;
            }
            bool needBase = indexDir is null || parse.GetValue(exactBaseline);
            var inputs = parse.GetValue(dataset) is { } name
                ? SearchInputs.FromDataset(name, loadBase: needBase, maxQueries: limit, progress: progress)
                : SearchInputs.FromFiles(parse.GetValue(baseFile), parse.GetRequiredValue(queries)!, parse.GetValue(gt),
                    parse.GetValue(gtScores), limit, progress);
            Metric? requested = parse.GetValue(metric) is { } m ? MetricExtensions.ParseMetric(m) : null;

            // Inputs and ground truth are loaded above, so index_resident_bytes bills only the index.
            long beforeOpen = ProcessMemory.ResidentBeforeOpen();
            using var searched = indexDir is null
                ? inputs.CreateExactIndex(inputs.ResolveMetric(requested))
                : IndexRegistry.Default.Open(indexDir);
            if (requested is { } r && r != searched.Metric)
                throw new RetrievalException(ErrorKind.Incompatible,
                    $"the index in {indexDir} ranks by {searched.Metric.ToName()}, not {r.ToName()}; drop --metric or rebuild the index");
            spannOptions.Apply(parse, searched);
            var run = new SearchRun(parse.GetValue(k), parse.GetValue(threads),
                inputs.GroundTruthFor(inputs.Queries, searched.Metric), progress);
            foreach (var setting in SettingsFor(searched, parse.GetValue(sweep), flags))
                results.Add(run.Measure(searched, inputs.Queries, setting, beforeOpen));

            if (indexDir is not null && parse.GetValue(exactBaseline))
            {
                long beforeBaseline = ProcessMemory.ResidentBeforeOpen();
                using var baseline = inputs.CreateExactIndex(searched.Metric);
                results.Add(run.Measure(baseline, inputs.Queries, baseline.DefaultParameters, beforeBaseline));
            }
            results.Flush();
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Seismic search parameters given as command-line flags (null = not given).</summary>
    private sealed record SeismicParameterFlags(int? QueryCut, float? HeapFactor, float? HeapFactorGrowth, SeismicBlockOrder? BlockOrder,
        bool? KnnRefine, int? KnnExpand)
    {
        /// <summary>Flags that pick a point of the query_cut x heap_factor grid (a sweep runs its own).</summary>
        public bool GridFlags => QueryCut is not null || HeapFactor is not null || HeapFactorGrowth is not null;
        /// <summary>Flags a sweep applies to each of its settings.</summary>
        public bool SweepFlags => BlockOrder is not null || KnnRefine is not null || KnnExpand is not null;

        /// <summary><paramref name="parameters"/> with every given flag applied, validated.</summary>
        public SeismicSearchParameters ApplyTo(SeismicSearchParameters parameters)
        {
            var p = parameters;
            if (QueryCut is int cut) p = p with { QueryCut = cut };
            if (HeapFactor is float factor) p = p with { HeapFactor = factor };
            if (HeapFactorGrowth is float growth) p = p with { HeapFactorGrowth = growth };
            if (BlockOrder is { } order) p = p with { BlockOrder = order };
            if (KnnRefine is bool refine) p = p with { KnnRefine = refine };
            if (KnnExpand is int expand) p = p with { KnnExpand = expand };
            p.Validate();
            return p;
        }
    }

    /// <summary>The settings to run: the sweep, or the index's default with any Seismic flags applied.</summary>
    private static IReadOnlyList<SearchParameters> SettingsFor(ISearchIndex index, bool sweep, SeismicParameterFlags flags)
    {
        if (index is Retrieval.Query.Indexes.Seismic.SeismicSearchIndex)
        {
            if (sweep && flags.GridFlags)
                throw new UsageException("--sweep runs its own query_cut x heap_factor grid; drop --query-cut/--heap-factor/--heap-factor-growth");
            if (sweep && flags.SweepFlags)
            {
                var adjusted = new List<SearchParameters>();
                foreach (var setting in index.SweepParameters)
                {
                    if (setting is not Retrieval.Query.Indexes.Seismic.SeismicIndexParameters s)
                    {
                        adjusted.Add(setting);
                        continue;
                    }
                    adjusted.Add(s with { Parameters = flags.ApplyTo(s.Parameters) });
                }
                return adjusted;
            }
            return sweep ? index.SweepParameters : [new Retrieval.Query.Indexes.Seismic.SeismicIndexParameters(flags.ApplyTo(SeismicSearchParameters.Default))];
        }
        if (flags.GridFlags || flags.SweepFlags)
            throw new UsageException($"--query-cut, --heap-factor, --heap-factor-growth, --block-order, --no-knn-refine and --knn-expand are Seismic settings; the {index.Kind} index does not take them");
        return sweep ? index.SweepParameters : [index.DefaultParameters];
    }
}
