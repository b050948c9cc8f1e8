using System.CommandLine;
using System.Globalization;
using Retrieval.Bench.Campaigns;
using Retrieval.Cli.Hosting;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval loadtest`: concurrent clients against a loopback server for a bounded time.</summary>
public static class LoadTestCommand
{
    public static Command Create(CliHost host)
    {
        var server = new Option<string?>("--server", "-s") { Description = "Loopback server URL. Default: start `retrieval serve` on a temporary directory as a child process (its memory is then measured)." };
        var serverPid = new Option<int?>("--server-pid") { Description = "Process id of the --server process, to report its resident memory at start and end." };
        var apiKey = new Option<string?>("--api-key") { Description = "API key, when the server needs one." };
        var clients = new Option<int>("--clients", "-c") { Description = "Concurrent clients, each with its own connection.", DefaultValueFactory = _ => 32 };
        var seconds = new Option<int>("--seconds") { Description = "Timed run length.", DefaultValueFactory = _ => 60 };
        var mix = new Option<string>("--mix") { Description = "Operation mix in percent, search:N,upsert:M (N + M = 100).", DefaultValueFactory = _ => "search:90,upsert:10" };
        var upsertClients = new Option<int>("--upsert-clients")
        {
            Description = "Dedicate this many of the clients to upserts and the rest to searches (--mix is then ignored), so searches " +
                          "are not held up by the writers' commit latency. 0 = every client follows --mix.",
        };
        var records = new Option<int>("--records") { Description = "Records preloaded into the load-test collection.", DefaultValueFactory = _ => 20_000 };
        var dims = new Option<int>("--dims") { Description = "Vector dimension.", DefaultValueFactory = _ => 64 };
        var k = CommonOptions.K(10);
        var compare = new Option<bool>("--compare-in-process")
        {
            Description = "Afterwards, run the same collection in an embedded engine in this process: all-core search QPS and " +
                          "single-query latency, and print the ratios against the targets (gRPC QPS >= 0.8 x in-process QPS, " +
                          "gRPC p99 <= 5 x single-query p50). On by default; --compare-in-process false skips it.",
            DefaultValueFactory = _ => true,
        };
        var command = new Command("loadtest",
            "Load test: many clients issue a search/upsert mix (exact inner-product search, single-record upserts) against a " +
            "loopback server for a fixed time; reports QPS, p50/p99 latency per operation, errors, and the server's resident " +
            "memory at start and end.")
        {
            server, serverPid, apiKey, clients, seconds, mix, upsertClients, records, dims, k, compare,
        };
        host.Examples(command, "retrieval loadtest --clients 32 --seconds 60 --mix search:90,upsert:10",
            "retrieval loadtest --server http://127.0.0.1:50051 --server-pid 12345 --seconds 600 --json");
        command.SetAction(parse =>
        {
            int searchPercent = ParseMix(parse.GetValue(mix)!);
            ServerProcess? child = null;
            string? temp = null;
            try
            {
                Uri url;
                Func<long>? memory = null;
                if (parse.GetValue(server) is { } s)
                {
                    if (!Uri.TryCreate(s, UriKind.Absolute, out url!)) throw new UsageException($"--server '{s}' is not a URL");
                    if (parse.GetValue(serverPid) is int pid) memory = () => ResidentOf(pid);
                }
                else
                {
                    temp = Path.Combine(Path.GetTempPath(), "retrieval-loadtest-" + Guid.NewGuid().ToString("N")[..8]);
                    child = ServerProcess.StartAsync(ServerProcess.SelfLauncher(typeof(Program).Assembly.Location), temp, [], TimeSpan.FromSeconds(60))
                        .GetAwaiter().GetResult();
                    url = child.Address;
                    var started = child;
                    memory = () => started.ResidentBytes();
                }
                var options = new LoadTestOptions
                {
                    Server = url,
                    ApiKey = parse.GetValue(apiKey),
                    Clients = parse.GetValue(clients),
                    Duration = TimeSpan.FromSeconds(parse.GetValue(seconds)),
                    SearchPercent = searchPercent,
                    UpsertClients = parse.GetValue(upsertClients),
                    Records = parse.GetValue(records),
                    Dimension = parse.GetValue(dims),
                    K = parse.GetValue(k),
                    ServerMemory = memory,
                };
                var result = LoadTest.RunAsync(options, new Progress<string>(line => { if (!parse.GetValue(host.Quiet)) host.Error.WriteLine(line); }))
                    .GetAwaiter().GetResult();
                (double BatchQps, Retrieval.Bench.Evaluation.LatencyStats Single)? reference = null;
                if (parse.GetValue(compare))
                {
                    child?.Dispose(); // free the cores for the in-process run
                    child = null;
                    reference = LoadTest.InProcessReferenceAsync(options).GetAwaiter().GetResult();
                }
                Write(host, parse, options, result, reference);
                foreach (var sample in result.ErrorSamples) host.Error.WriteLine("error sample: " + sample);
                return result.Errors == 0 ? ExitCodes.Success : ExitCodes.Failed;
            }
            finally
            {
                child?.Dispose();
                if (temp is not null) try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            }
        });
        return command;
    }

    private static void Write(CliHost host, ParseResult parse, LoadTestOptions options, LoadTestResult r,
        (double BatchQps, Retrieval.Bench.Evaluation.LatencyStats Single)? reference)
    {
        var c = CultureInfo.InvariantCulture;
        if (parse.GetValue(host.Json))
        {
            var fields = new Dictionary<string, object>
            {
                ["clients"] = options.Clients,
                ["upsert_clients"] = options.UpsertClients,
                ["seconds"] = Math.Round(r.Seconds, 2),
                ["search_percent"] = options.SearchPercent,
                ["records"] = options.Records,
                ["dims"] = options.Dimension,
                ["k"] = options.K,
                ["searches"] = r.Searches,
                ["upserts"] = r.Upserts,
                ["errors"] = r.Errors,
                ["search_qps"] = Math.Round(r.SearchQps, 1),
                ["upsert_qps"] = Math.Round(r.UpsertQps, 1),
                ["search_p50_ms"] = Math.Round(r.SearchLatency.P50Us / 1000, 3),
                ["search_p99_ms"] = Math.Round(r.SearchLatency.P99Us / 1000, 3),
                ["upsert_p50_ms"] = Math.Round(r.UpsertLatency.P50Us / 1000, 3),
                ["upsert_p99_ms"] = Math.Round(r.UpsertLatency.P99Us / 1000, 3),
                ["server_rss_start_bytes"] = r.ServerMemoryStart,
                ["server_rss_end_bytes"] = r.ServerMemoryEnd,
                ["server_rss_early_bytes"] = r.ServerMemoryEarly,
                ["server_rss_early_at_seconds"] = Math.Round(r.ServerMemoryEarlySeconds, 1),
                ["server_rss_peak_bytes"] = r.ServerMemoryPeak,
                ["server_rss_growth_early_to_end"] = double.IsNaN(r.ServerMemoryGrowth) ? -1 : Math.Round(r.ServerMemoryGrowth, 4),
                ["memory_target_met"] = !double.IsNaN(r.ServerMemoryGrowth) && Math.Abs(r.ServerMemoryGrowth) <= 0.10,
                ["errors_target_met"] = r.Errors == 0,
            };
            if (reference is { } refs)
            {
                fields["in_process_qps"] = Math.Round(refs.BatchQps, 1);
                fields["in_process_single_p50_ms"] = Math.Round(refs.Single.P50Us / 1000, 3);
                fields["grpc_over_in_process_qps"] = Math.Round(r.SearchQps / refs.BatchQps, 3);
                fields["grpc_p99_over_single_p50"] = Math.Round(r.SearchLatency.P99Us / refs.Single.P50Us, 2);
                fields["queueing_floor_ms"] = Math.Round(options.Clients / refs.BatchQps * 1000, 3);
                fields["qps_target_met"] = r.SearchQps >= QpsTarget * refs.BatchQps;
                fields["p99_target_met"] = r.SearchLatency.P99Us <= P99Target * refs.Single.P50Us;
            }
            host.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(fields));
        }
        else
        {
            host.Out.WriteLine(string.Create(c,
                $"{options.Clients} clients, {r.Seconds:F1} s: search {r.SearchQps:F0} QPS (p50 {r.SearchLatency.P50Us / 1000:F2} ms, p99 {r.SearchLatency.P99Us / 1000:F2} ms), " +
                $"upsert {r.UpsertQps:F0} QPS (p50 {r.UpsertLatency.P50Us / 1000:F2} ms, p99 {r.UpsertLatency.P99Us / 1000:F2} ms), errors {r.Errors}, " +
                $"server RSS {r.ServerMemoryStart / 1048576.0:F0} -> {r.ServerMemoryEnd / 1048576.0:F0} MiB"));
            string Met(bool met) => met ? "met" : "MISSED";
            if (r.ServerMemoryEarly > 0)
                host.Out.WriteLine(string.Create(c,
                    $"target server memory flat (within 10%) from {r.ServerMemoryEarlySeconds:F0} s to the end: {r.ServerMemoryEarly / 1048576.0:F0} -> {r.ServerMemoryEnd / 1048576.0:F0} MiB " +
                    $"({r.ServerMemoryGrowth * 100:+0.0;-0.0}%, peak {r.ServerMemoryPeak / 1048576.0:F0} MiB): {Met(Math.Abs(r.ServerMemoryGrowth) <= 0.10)}"));
            host.Out.WriteLine(string.Create(c, $"target 0 errors: {r.Errors}: {Met(r.Errors == 0)}"));
            if (reference is { } refs)
            {
                host.Out.WriteLine(string.Create(c,
                    $"in-process (same collection, all cores): {refs.BatchQps:F0} QPS, single-query p50 {refs.Single.P50Us / 1000:F3} ms (p99 {refs.Single.P99Us / 1000:F3} ms)"));
                host.Out.WriteLine(string.Create(c,
                    $"target gRPC QPS >= {QpsTarget:F1} x in-process: {r.SearchQps:F0} / {refs.BatchQps:F0} = {r.SearchQps / refs.BatchQps:F2}: {Met(r.SearchQps >= QpsTarget * refs.BatchQps)}"));
                // Closed-loop clients queue: mean latency >= clients / throughput (Little's law), whatever the transport.
                double floorMs = options.Clients / refs.BatchQps * 1000;
                host.Out.WriteLine(string.Create(c,
                    $"queueing floor: {options.Clients} clients / {refs.BatchQps:F0} QPS = {floorMs:F2} ms mean latency even in-process = {floorMs * 1000 / refs.Single.P50Us:F1}x single-query p50 (the p99 target needs clients <= about 5 x cores)"));
                host.Out.WriteLine(string.Create(c,
                    $"target gRPC p99 <= {P99Target:F0} x single-query p50: {r.SearchLatency.P99Us / 1000:F2} ms / {refs.Single.P50Us / 1000:F3} ms = {r.SearchLatency.P99Us / refs.Single.P50Us:F1}x: {Met(r.SearchLatency.P99Us <= P99Target * refs.Single.P50Us)}"));
            }
        }
        host.Out.Flush();
    }

    /// <summary>The service's targets: gRPC search QPS at least this fraction of in-process QPS; p99 at most this multiple of single-query latency.</summary>
    public const double QpsTarget = 0.8, P99Target = 5;

    private static int ParseMix(string mix)
    {
        int search = -1, upsert = -1;
        foreach (var part in mix.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split(':');
            if (kv.Length != 2 || !int.TryParse(kv[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < 0)
                throw new UsageException($"--mix part '{part}' is not NAME:PERCENT");
            if (kv[0] == "search") search = n;
            else if (kv[0] == "upsert") upsert = n;
            else throw new UsageException($"--mix operation '{kv[0]}' is unknown (search, upsert)");
        }
        if (search < 0) search = 100 - Math.Max(0, upsert);
        if (upsert < 0) upsert = 100 - search;
        if (search + upsert != 100) throw new UsageException($"--mix percentages add up to {search + upsert}, not 100");
        return search;
    }

    private static long ResidentOf(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return p.WorkingSet64;
        }
        catch (ArgumentException) { return -1; }
    }
}
