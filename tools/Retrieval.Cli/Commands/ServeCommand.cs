using System.CommandLine;
using Microsoft.Extensions.Logging;
using Retrieval.Cli.Hosting;
using Retrieval.Query.Engine;
using Retrieval.Service.Hosting;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval serve`: the retrieval.v1 gRPC server over an engine data directory, until Ctrl+C / SIGTERM.</summary>
public static class ServeCommand
{
    public static Command Create(CliHost host)
    {
        var data = new Option<string>("--data") { Description = "Engine data directory (created if missing).", Required = true };
        var port = new Option<int>("--port", "-p") { Description = "TCP port; 0 picks a free one.", DefaultValueFactory = _ => ServerOptions.DefaultPort };
        var bind = new Option<string>("--bind") { Description = "Address to listen on. A non-loopback address needs --api-key.", DefaultValueFactory = _ => ServerOptions.DefaultBind };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "Require this key on every call (metadata 'x-api-key' or 'authorization: Bearer'). Default: the " +
                          "RETRIEVAL_API_KEY environment variable, if set.",
        };
        var maxK = new Option<int>("--max-k") { Description = "Largest k a search may ask for.", DefaultValueFactory = _ => ServiceLimits.Default.MaxK };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most records / ids / queries per request.", DefaultValueFactory = _ => ServiceLimits.Default.MaxBatch };
        var checkpointSeconds = new Option<int>("--checkpoint-seconds")
        {
            Description = "Seconds between background checkpoints (0 = only on shutdown).",
            DefaultValueFactory = _ => (int)EngineOptions.Default.CheckpointInterval.TotalSeconds,
        };
        var metricsPort = new Option<int?>("--metrics-port")
        {
            Description = "Also serve GET /metrics (Prometheus text format: request counts and latency histograms per method " +
                          "and status, process memory) over HTTP/1.1 on this port of the bind address; 0 picks a free one. " +
                          "The same figures are on the 'Retrieval.Service' meter for dotnet-counters.",
        };
        var memoryLimit = new Option<string?>("--memory-limit")
        {
            Description = "Memory cap of the server process (bytes, or with a K/M/G suffix: 1G). Writes are refused with " +
                          "RESOURCE_EXHAUSTED above 90% of it (searches go on), the record store and log buffers are sized to it, " +
                          "and the .NET heap is capped at 75% of it. Default: the memory cgroup's limit when the process runs " +
                          "under one, else none.",
        };
        var logLevel = new Option<string>("--log-level") { Description = "Least severe log level written (JSON lines on stdout).", DefaultValueFactory = _ => "information" }
            .AcceptOnlyFromAmong("trace", "debug", "information", "warning", "error", "none");
        var command = new Command("serve",
            "Run the gRPC server (package retrieval.v1: collections, points, search; grpc.health.v1 health; server reflection) " +
            "over an engine data directory. Plain-text HTTP/2 on loopback by default. Stops on Ctrl+C or SIGTERM, finishing " +
            "running calls and checkpointing the engine.")
        {
            data, port, bind, apiKey, maxK, maxBatch, checkpointSeconds, metricsPort, memoryLimit, logLevel,
        };
        host.Examples(command,
            "retrieval serve --data ./engine-data",
            "retrieval serve --data ./engine-data --port 0",
            "retrieval serve --data ./engine-data --metrics-port 9464",
            "retrieval serve --data ./engine-data --memory-limit 1G",
            "retrieval serve --data /srv/retrieval --bind 0.0.0.0 --api-key \"$RETRIEVAL_API_KEY\"");
        command.SetAction(parse =>
        {
            long limit = parse.GetValue(memoryLimit) is { } text ? ByteSize.Parse(text, "--memory-limit") : CgroupMemory.LimitBytes() ?? 0;
            if (limit is > 0 and < EngineOptions.MinMemoryLimitBytes)
                throw new UsageException($"--memory-limit must be at least {EngineOptions.MinMemoryLimitBytes >> 20} MiB, got {limit >> 20} MiB");
            if (limit > 0)
            {
                // The heap gets 75% of the cap (the rest: runtime, FASTER's native buffers, thread stacks, file reads).
                AppContext.SetData("GCHeapHardLimit", (ulong)(limit * 0.75));
                GC.RefreshMemoryLimit();
            }
            var options = new ServerOptions
            {
                DataDirectory = parse.GetRequiredValue(data),
                Port = parse.GetValue(port),
                Bind = parse.GetValue(bind) ?? ServerOptions.DefaultBind,
                ApiKey = parse.GetValue(apiKey) ?? NullIfEmpty(Environment.GetEnvironmentVariable("RETRIEVAL_API_KEY")),
                Limits = ServiceLimits.Default with { MaxK = parse.GetValue(maxK), MaxBatch = parse.GetValue(maxBatch) },
                Engine = (EngineOptions.Default with { CheckpointInterval = TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(checkpointSeconds))) })
                    .WithMemoryLimit(limit),
                MetricsPort = parse.GetValue(metricsPort),
                LogLevel = Enum.Parse<LogLevel>(parse.GetValue(logLevel) ?? "information", ignoreCase: true),
            };
            Run(options, host.Error).GetAwaiter().GetResult();
            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task Run(ServerOptions options, TextWriter status)
    {
        var server = await RetrievalServer.StartAsync(options).ConfigureAwait(false);
        await using (server.ConfigureAwait(false))
        {
            // One machine-readable line scripts (and the crash test) wait for.
            await status.WriteLineAsync($"listening on {server.Address} (data {Path.GetFullPath(options.DataDirectory)})").ConfigureAwait(false);
            if (server.MetricsAddress is not null) await status.WriteLineAsync($"metrics on {server.MetricsAddress}").ConfigureAwait(false);
            await status.FlushAsync().ConfigureAwait(false);
            await server.WaitForShutdownAsync().ConfigureAwait(false);
        }
        await status.WriteLineAsync("stopped; engine checkpointed").ConfigureAwait(false);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
