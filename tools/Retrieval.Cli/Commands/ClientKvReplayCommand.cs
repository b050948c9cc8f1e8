using System.CommandLine;
using System.Globalization;
using Retrieval.Bench.Benchmarks.Kv;
using Retrieval.Cli.Hosting;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval client kv-replay`: one head of a real KV dataset played through a server's KV cache, end to end.</summary>
public static class ClientKvReplayCommand
{
    public static Command Create(CliHost host, Option<string> server, Option<string?> apiKey, Func<ParseResult, Func<Task>, int> call)
    {
        var dataset = new Option<string>("--dataset") { Description = "kv dataset name or folder (kv-minilm layout).", DefaultValueFactory = _ => "kv-minilm" };
        var head = new Option<int>("--head") { Description = "Head index in the dataset's manifest." };
        var baseRows = new Option<int?>("--base-rows") { Description = "Keys/values prefilled (default: the dataset's cache rows)." };
        var queries = new Option<int?>("--queries") { Description = "Decode queries to send (default: all)." };
        var k = CommonOptions.K(100);
        var ef = new Option<int>("--ef") { Description = "Beam width (0 = the server's default)." };
        var queryHeads = new Option<int>("--query-heads") { Description = "Query heads sharing the KV head (GQA group); each call carries one decode query per query head.", DefaultValueFactory = _ => 1 };
        var sink = new Option<int>("--sink") { Description = "Static sink tokens S (excluded from results; attended here exactly).", DefaultValueFactory = _ => 4 };
        var window = new Option<int>("--window") { Description = "Static window tokens W (the last W positions).", DefaultValueFactory = _ => 256 };
        var appends = new Option<int>("--appends") { Description = "Decode rows appended one step per call after the first pass, then searched again." };
        var appendMode = new Option<string>("--append-mode") { Description = "How appended keys become searchable.", DefaultValueFactory = _ => "buffered" }.AcceptOnlyFromAmong("buffered", "query-guided");
        var attend = new Option<bool>("--attend") { Description = "Also run the attend pass: the server's partial attention merged with the static part, against full attention." };
        var sampleRate = new Option<double>("--training-sample-rate") { Description = "Share of prefill queries used to build (0 = the server's default)." };
        var command = new Command("kv-replay",
            "Play one head of a kv dataset through the server's KV cache: create a sequence, prefill, build from prefill queries, search (and attend) the decode queries, append, release; prints recall@k, keys scored and latency per call.")
        {
            dataset, head, baseRows, queries, k, ef, queryHeads, sink, window, appends, appendMode, attend, sampleRate,
        };
        host.Examples(command,
            "retrieval client kv-replay --dataset kv-minilm --ef 220 --k 100",
            "retrieval client kv-replay --dataset kv-minilm --query-heads 12 --queries 600 --attend --appends 10000 --append-mode query-guided --json");
        command.SetAction(parse => call(parse, async () =>
        {
            var options = new KvReplayOptions
            {
                Server = new Uri(parse.GetValue(server)!),
                ApiKey = parse.GetValue(apiKey) ?? NullIfEmpty(Environment.GetEnvironmentVariable("RETRIEVAL_API_KEY")),
                Dataset = parse.GetValue(dataset)!,
                HeadIndex = parse.GetValue(head),
                BaseRows = parse.GetValue(baseRows),
                Queries = parse.GetValue(queries),
                K = parse.GetValue(k),
                Ef = parse.GetValue(ef),
                QueryHeads = parse.GetValue(queryHeads),
                SinkTokens = parse.GetValue(sink),
                WindowTokens = parse.GetValue(window),
                Appends = parse.GetValue(appends),
                AppendMode = parse.GetValue(appendMode) == "query-guided" ? V1.KvAppendMode.QueryGuided : V1.KvAppendMode.Buffered,
                Attend = parse.GetValue(attend),
                TrainingSampleRate = parse.GetValue(sampleRate),
            };
            var result = await KvReplay.RunAsync(options, new Progress<string>(line => { if (!parse.GetValue(host.Quiet)) host.Error.WriteLine(line); }));
            Write(host, parse.GetValue(host.Json), result);
        }));
        return command;
    }

    private static void Write(CliHost host, bool json, KvReplayResult r)
    {
        var c = CultureInfo.InvariantCulture;
        if (!json)
        {
            host.Out.WriteLine(string.Create(c,
                $"{r.Dataset} {r.Head}: {r.BaseRows:N0} keys x {r.Dimension}, {r.QueryHeads} query head(s), k {r.K}, ef {(r.Ef == 0 ? "default" : r.Ef.ToString(c))}; " +
                $"prefill {r.PrefillSeconds:F2} s ({r.PrefillBytesSent / 1048576.0:F1} MiB sent), build {r.BuildSeconds:F2} s (server {r.ServerBuildSeconds:F2} s), " +
                $"sequence memory {r.SequenceMemoryBytes / 1048576.0:F1} MiB, released {r.FreedBytes / 1048576.0:F1} MiB"));
            if (r.AppendLatency is { } a)
                host.Out.WriteLine(string.Create(c, $"append: {a.Count:N0} steps, mean {a.MeanUs:F0} us, p50 {a.P50Us:F0} us, p99 {a.P99Us:F0} us per call"));
        }
        foreach (var p in r.Passes)
        {
            if (json)
            {
                var fields = new Dictionary<string, object>
                {
                    ["dataset"] = r.Dataset,
                    ["head"] = r.Head,
                    ["pass"] = p.Name,
                    ["keys"] = p.Keys,
                    ["k"] = r.K,
                    ["ef"] = r.Ef,
                    ["query_heads_per_call"] = p.HeadQueriesPerCall,
                    ["calls"] = p.Calls,
                    ["keys_scored_fraction"] = Math.Round(p.KeysScoredFraction, 5),
                    ["call_mean_us"] = Math.Round(p.CallLatency.MeanUs, 1),
                    ["call_p50_us"] = Math.Round(p.CallLatency.P50Us, 1),
                    ["call_p99_us"] = Math.Round(p.CallLatency.P99Us, 1),
                    ["head_queries_per_second"] = Math.Round(p.HeadQueriesPerSecond, 1),
                    ["prefill_seconds"] = Math.Round(r.PrefillSeconds, 3),
                    ["build_seconds"] = Math.Round(r.BuildSeconds, 3),
                    ["server_build_seconds"] = Math.Round(r.ServerBuildSeconds, 3),
                    ["sequence_memory_bytes"] = r.SequenceMemoryBytes,
                };
                if (!double.IsNaN(p.RecallAtK)) { fields["recall_at_k"] = Math.Round(p.RecallAtK, 4); fields["static_hits"] = p.StaticHits; }
                if (!double.IsNaN(p.AttentionRelativeError))
                {
                    fields["attention_rel_error"] = Math.Round(p.AttentionRelativeError, 5);
                    fields["exact_top_k_attention_rel_error"] = Math.Round(p.ExactTopKAttentionRelativeError, 5);
                }
                if (r.AppendLatency is { } a) { fields["append_mean_us"] = Math.Round(a.MeanUs, 1); fields["append_p99_us"] = Math.Round(a.P99Us, 1); }
                host.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(fields));
                continue;
            }
            string quality = double.IsNaN(p.RecallAtK)
                ? string.Create(c, $"attention rel error {p.AttentionRelativeError:F4} (exact top-{r.K}: {p.ExactTopKAttentionRelativeError:F4})")
                : string.Create(c, $"recall@{r.K} {p.RecallAtK:F4} (static hits {p.StaticHits})");
            host.Out.WriteLine(string.Create(c,
                $"{p.Name}: {p.Calls:N0} calls x {p.HeadQueriesPerCall} head(s) over {p.Keys:N0} keys, {quality}, keys scored {p.KeysScoredFraction:P2}, " +
                $"per call mean {p.CallLatency.MeanUs:F0} us, p50 {p.CallLatency.P50Us:F0} us, p99 {p.CallLatency.P99Us:F0} us, {p.HeadQueriesPerSecond:F0} head-queries/s"));
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
