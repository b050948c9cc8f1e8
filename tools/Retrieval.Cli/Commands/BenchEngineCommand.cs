using System.CommandLine;
using Retrieval.Bench.Benchmarks.Engine;
using Retrieval.Bench.Campaigns;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval bench engine`: parses the options of <see cref="EngineBenchmark"/> and prints its result lines.</summary>
public static class BenchEngineCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = CommonOptions.Dataset(" A dense set with base vectors and queries (ground truth is computed exactly over what is ingested).");
        dataset.Required = true;
        var data = new Option<string?>("--data") { Description = "Embedded engine data directory (default: a fresh folder under the temp directory, deleted afterwards).", HelpName = "DIR" };
        var server = new Option<string?>("--server") { Description = "Run against this `retrieval serve` instead of an embedded engine.", HelpName = "URL" };
        var apiKey = new Option<string?>("--api-key") { Description = "API key for --server.", HelpName = "KEY" };
        var serverPid = new Option<int?>("--server-pid") { Description = "With --server: the server's process id, so server_rss_bytes is sampled from /proc.", HelpName = "PID" };
        var serverData = new Option<string?>("--server-data") { Description = "With --server: the server's data directory, so disk_bytes is reported.", HelpName = "DIR" };
        var startServer = new Option<bool>("--start-server") { Description = "Start `retrieval serve` as a child process over a temporary data directory and run against it (server_rss_bytes and disk_bytes reported)." };
        var memoryLimit = new Option<string?>("--memory-limit")
        {
            Description = "With --start-server: cap the server at this much memory (bytes, or K/M/G: 1G). The server runs inside a cgroup v1 " +
                          "memory cgroup with this limit, so the kernel enforces it, and gets `serve --memory-limit` too; a last " +
                          "memory_cap line reports the group's peak, limit hits and OOM kills. Where no memory controller is writable the bench says so and runs uncapped.",
            HelpName = "BYTES",
        };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 1000, Description = "Records per upsert (and delete) call.", HelpName = "N" };
        var maxQueries = new Option<int?>("--max-queries") { Description = "Search only the first N queries (default: all).", HelpName = "N" };
        var maxRows = new Option<int?>("--max-rows") { Description = "Ingest only the first N base rows (default: all).", HelpName = "N" };
        var clients = new Option<int>("--clients") { DefaultValueFactory = _ => 1, Description = "Also search from N concurrent clients splitting the queries (an extra search line with its qps).", HelpName = "N" };
        var updates = new Option<int>("--updates") { DefaultValueFactory = _ => 0, Description = "Update rounds after the first search.", HelpName = "R" };
        var fraction = new Option<double>("--update-fraction") { DefaultValueFactory = _ => 0.1, Description = "Fraction of the live rows deleted (and as many deleted vectors re-inserted under new keys) per round, in (0, 1).", HelpName = "F" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1, Description = "Seed of the rows each update round picks." };
        var k = CommonOptions.K(10);
        var command = new Command("engine",
            "The engine end to end with its defaults, embedded or through a server: ingest a dense set in batches, wait until " +
            "background_jobs is 0, search one query at a time (and from N clients), then update rounds (delete a fraction, re-insert as many), " +
            "each settled and searched again; recall@k against exact ground truth of the current contents, latency, QPS, ingest and update rates, resident memory and bytes on disk.")
        {
            dataset, data, server, apiKey, serverPid, serverData, startServer, memoryLimit, batch, maxQueries, maxRows, clients, updates, fraction, seed, k,
        };
        host.Examples(command,
            "retrieval bench engine --dataset datasets/fixtures/tiny-dense --updates 2 --update-fraction 0.1",
            "retrieval bench engine --dataset minilm-passages --max-rows 50000 --max-queries 300 --clients 4 --json",
            "retrieval bench engine --dataset minilm-passages --server http://127.0.0.1:50051 --server-pid 12345",
            "retrieval bench engine --dataset minilm-passages --start-server --memory-limit 400M --json");
        command.SetAction(parse =>
        {
            var progress = host.Progress(parse);
            var results = host.Results(parse);
            string? url = parse.GetValue(server);
            if (parse.GetValue(startServer) && url is not null) throw new UsageException("give --server or --start-server, not both");
            if (url is null && (parse.GetValue(serverPid) is not null || parse.GetValue(serverData) is not null || parse.GetValue(apiKey) is not null))
                throw new UsageException("--server-pid, --server-data and --api-key need --server");
            if (parse.GetValue(k) < 1) throw new UsageException($"--k must be >= 1, got {parse.GetValue(k)}");
            double f = parse.GetValue(fraction);
            if (!(f > 0 && f < 1)) throw new UsageException($"--update-fraction must be in (0, 1), got {f}");
            long? capBytes = parse.GetValue(memoryLimit) is { } capText ? ByteSize.Parse(capText, "--memory-limit") : null;
            if (capBytes is not null && !parse.GetValue(startServer)) throw new UsageException("--memory-limit needs --start-server (the bench caps the server it starts)");
            ServerProcess? child = null;
            MemoryCgroup? cgroup = null;
            string? capReason = null;
            string? childData = null;
            try
            {
                int? pid = parse.GetValue(serverPid);
                string? dataDir = parse.GetValue(serverData);
                if (parse.GetValue(startServer))
                {
                    if (parse.GetValue(data) is not null) throw new UsageException("--data is for the embedded engine; --start-server uses a temporary directory");
                    childData = Path.Combine(Path.GetTempPath(), "retrieval-bench-engine-server-" + Guid.NewGuid().ToString("N")[..8]);
                    progress.Log($"starting `retrieval serve` over {childData}");
                    var launcher = ServerProcess.SelfLauncher(typeof(Program).Assembly.Location);
                    string[] serverArguments = [];
                    if (capBytes is { } cap)
                    {
                        cgroup = MemoryCgroup.TryCreate("retrieval-bench-" + Guid.NewGuid().ToString("N")[..8], cap, out capReason);
                        if (cgroup is not null)
                        {
                            launcher = cgroup.Wrap(launcher);
                            progress.Log($"server capped at {cap >> 20} MiB by memory cgroup {cgroup.Path}");
                        }
                        else progress.Log($"warning: {capReason}; the server runs uncapped (it still gets --memory-limit)");
                        serverArguments = ["--memory-limit", cap.ToString(System.Globalization.CultureInfo.InvariantCulture)];
                    }
                    child = ServerProcess.StartAsync(launcher, childData, serverArguments, TimeSpan.FromSeconds(60))
                        .GetAwaiter().GetResult();
                    url = child.Address.ToString();
                    pid = child.ProcessId;
                    dataDir = childData;
                }
                var options = new EngineBenchmarkOptions
                {
                    Dataset = parse.GetRequiredValue(dataset)!,
                    DataDirectory = parse.GetValue(data),
                    Server = url,
                    ApiKey = parse.GetValue(apiKey),
                    ServerProcessId = pid,
                    ServerDataDirectory = dataDir,
                    Batch = parse.GetValue(batch),
                    MaxQueries = parse.GetValue(maxQueries),
                    MaxRows = parse.GetValue(maxRows),
                    Clients = parse.GetValue(clients),
                    Updates = parse.GetValue(updates),
                    UpdateFraction = f,
                    Seed = parse.GetValue(seed),
                    K = parse.GetValue(k),
                };
                try
                {
                    EngineBenchmark.RunAsync(options, (title, lines) =>
                    {
                        foreach (var line in lines) results.Add(line);
                        results.Flush(title);
                    }, progress).GetAwaiter().GetResult();
                }
                finally
                {
                    if (capBytes is { } cap)
                    {
                        results.Add(new ReportLine(
                        [
                            new("phase", "memory_cap"),
                            new("limit_bytes", cap),
                            new("enforced_by", cgroup is not null ? "cgroup v1 " + cgroup.Path : "none: " + capReason),
                            new("cgroup_peak_bytes", cgroup?.PeakBytes),
                            new("limit_hits", cgroup?.LimitHits),
                            new("oom_kills", cgroup?.OomKills),
                            new("server_alive", child is not null && !child.HasExited),
                        ]));
                        results.Flush("memory cap:");
                    }
                }
            }
            finally
            {
                child?.Dispose();
                cgroup?.Dispose();
                if (childData is not null)
                    try { Directory.Delete(childData, recursive: true); } catch (IOException) { }
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
