using System.CommandLine;
using Retrieval.Bench.Benchmarks.Kv;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Attention;

namespace Retrieval.Cli.Commands;

/// <summary>
/// `retrieval bench kv`: the attention-aware KV index (RetrievalAttention / RoarGraph projection) against exact
/// scan, IVF over keys and HNSW over keys on a kv dataset (kv-minilm or any folder laid out like it).
/// </summary>
public static class BenchKvCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = CommonOptions.Dataset(" A kv dataset (q/k/v .npy per head), default kv-minilm.");
        var queriesLimit = new Option<int?>("--queries-limit")
        {
            Description = "Use only the first N decode queries (default: all).",
            HelpName = "N",
        };
        var ks = ListOptions.Ints("--k", [100, 10], "Neighbours per head-query; several allowed (the first also drives the attention error).", helpName: "K,K,...");
        var ef = ListOptions.Ints("--ef", [100, 150, 160, 200, 250, 300, 500], "Beam widths (ef) of the attention-aware index to sweep.", helpName: "EF,EF,...");
        var sampleRate = new Option<double>("--training-sample-rate")
        {
            Description = "Fraction of the prefill queries used to build the index.",
            HelpName = "RATE",
            DefaultValueFactory = _ => AttentionIndexOptions.DefaultTrainingSampleRate,
        };
        var connectivity = new Option<int>("--connectivity")
        {
            Description = "Out-degree bound M of the key graph.",
            HelpName = "M",
            DefaultValueFactory = _ => AttentionIndexOptions.DefaultConnectivity,
        };
        var kTrain = new Option<int>("--k-train")
        {
            Description = "Exact top keys per training query fed to the projection.",
            HelpName = "K",
            DefaultValueFactory = _ => AttentionIndexOptions.DefaultTrainingNeighbors,
        };
        var keyGraph = new Option<bool>("--key-graph")
        {
            Description = "Also run the ablation: the same graph search over a graph built from keys only.",
        };
        var appends = new Option<int>("--appends")
        {
            Description = "Decode appends measured against a full rebuild (0 = skip).",
            HelpName = "N",
            DefaultValueFactory = _ => 10_000,
        };
        var skip = ListOptions.Strings("--skip", [], "Parts to skip: exact, ivf, hnsw, keygraph, attention, append (or append-guided, append-buffered), batch.", helpName: "PART,PART,...");
        var threads = CommonOptions.Threads(0, "Threads of builds and of the batched-heads line (single-query lines use one).");
        var command = new Command("kv",
            "Attention-aware KV index vs exact scan, IVF over keys and HNSW over keys: tie-aware recall@k, fraction of keys " +
            "scored, mean/p99 microseconds per head-query on one thread, build seconds per head (wall and CPU), index bytes, " +
            "relative error of the merged attention output (static part of S = 4 sink and W = 256 window tokens computed " +
            "exactly); then recall after decode appends vs a full rebuild, and per-call latency for 12 and 32 heads.")
        {
            dataset, queriesLimit, ks, ef, sampleRate, connectivity, kTrain, keyGraph, appends, skip, threads,
        };
        host.Examples(command,
            "retrieval bench kv --dataset kv-minilm",
            "retrieval bench kv --dataset kv-minilm --queries-limit 200 --appends 1000 --skip hnsw --json");
        command.SetAction(parse =>
        {
            var progress = host.Progress(parse);
            var results = host.Results(parse);
            var options = new KvBenchmarkOptions
            {
                Dataset = parse.GetValue(dataset) ?? "kv-minilm",
                QueryCount = parse.GetValue(queriesLimit) ?? 0,
                Ks = parse.GetValue(ks)!,
                SearchBeamWidths = parse.GetValue(ef)!,
                IndexOptions = new AttentionIndexOptions
                {
                    TrainingSampleRate = parse.GetValue(sampleRate),
                    Connectivity = parse.GetValue(connectivity),
                    TrainingNeighbors = parse.GetValue(kTrain),
                },
                KeyOnlyGraph = parse.GetValue(keyGraph),
                Appends = parse.GetValue(appends),
                Skip = parse.GetValue(skip)!,
                Threads = parse.GetValue(threads),
            };
            var report = KvBenchmark.Run(options, progress.Log);
            results.Add(DefaultsLine.Create("kv",
                new("connectivity", AttentionIndexOptions.DefaultConnectivity), new("k_train", AttentionIndexOptions.DefaultTrainingNeighbors),
                new("training_sample_rate", AttentionIndexOptions.DefaultTrainingSampleRate),
                new("ef", AttentionSearchParameters.DefaultSearchBeamWidth)));
            long resident = ProcessMemory.ResidentBytes();
            foreach (var row in report.Rows)
            {
                results.Add(new ReportLine(
                [
                    new("head", row.Head),
                    new("method", row.Method),
                    new("settings", row.Settings),
                    new("k", row.K),
                    new("recall_at_k", row.RecallAtK),
                    new("keys_scored_fraction", double.IsNaN(row.KeysScoredFraction) ? null : row.KeysScoredFraction),
                    new("mean_us", row.MeanUs),
                    new("p99_us", row.P99Us),
                    new("cpu_us", double.IsNaN(row.CpuUs) ? null : row.CpuUs),
                    new("build_seconds_per_head", row.BuildSecondsPerHead),
                    new("build_cpu_seconds_per_head", row.BuildCpuSecondsPerHead),
                    new("index_bytes", row.IndexBytes),
                    new("attention_rel_error", double.IsNaN(row.AttentionRelError) ? null : row.AttentionRelError),
                    new("attention_mass", double.IsNaN(row.AttentionMass) ? null : row.AttentionMass),
                    new("resident_bytes", resident),
                ]));
            }
            results.Flush($"{report.Dataset}: {report.Keys:N0} keys, {report.Queries} decode queries, heads {string.Join(",", report.Heads)}; " +
                "single-thread latency per head-query; attention error with S = 4, W = 256:");
            foreach (var a in report.Appends)
            {
                results.Add(new ReportLine(
                [
                    new("measurement", "append"),
                    new("head", a.Head),
                    new("mode", a.Mode),
                    new("appends", a.Appends),
                    new("k", a.K),
                    new("ef", a.SearchBeamWidth),
                    new("recall_appended", a.AppendedRecall),
                    new("keys_scored_fraction_appended", a.AppendedKeysScoredFraction),
                    new("recall_rebuilt", a.RebuiltRecall),
                    new("keys_scored_fraction_rebuilt", a.RebuiltKeysScoredFraction),
                    new("append_mean_us", a.AppendMeanUs),
                    new("append_p99_us", a.AppendP99Us),
                    new("append_max_us", a.AppendMaxUs),
                    new("observe_query_mean_us", double.IsNaN(a.ObserveMeanUs) ? null : a.ObserveMeanUs),
                    new("rebuild_seconds", a.RebuildSeconds),
                ]));
            }
            results.Flush("recall after decode appends (query-guided insertion, and an exact buffer folded in batches) vs a full rebuild:");
            foreach (var b in report.Batches)
            {
                results.Add(new ReportLine(
                [
                    new("measurement", "batch"),
                    new("heads", b.Heads),
                    new("calls", b.Calls),
                    new("ef", b.SearchBeamWidth),
                    new("mean_us_per_call", b.MeanUsPerCall),
                    new("p99_us_per_call", b.P99UsPerCall),
                    new("head_queries_per_second", b.HeadQueriesPerSecond),
                    new("threads", report.Threads),
                    new("note", b.Note),
                ]));
            }
            results.Flush("batched heads (one call searches every head, parallel across cores):");
            for (int i = 0; i < report.BuildStats.Count; i++)
            {
                var b = report.BuildStats[i];
                results.Add(new ReportLine(
                [
                    new("measurement", "build"),
                    new("head", i < report.Heads.Count ? report.Heads[i] : "?"),
                    new("training_queries", b.TrainingQueries),
                    new("pivots", b.Pivots),
                    new("exact_top_k_train_seconds", b.TrainingNeighborsSeconds),
                    new("projection_seconds", b.ProjectionSeconds),
                    new("reverse_edges_seconds", b.ReverseEdgesSeconds),
                    new("connectivity_seconds", b.ConnectivitySeconds),
                    new("connectivity_edges", b.ConnectivityEdges),
                    new("total_seconds", b.TotalSeconds),
                    new("threads", report.Threads),
                ]));
            }
            results.Flush("attention-aware build split per head (wall seconds):");
            return ExitCodes.Success;
        });
        return command;
    }
}
