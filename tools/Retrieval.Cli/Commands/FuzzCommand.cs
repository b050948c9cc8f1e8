using System.CommandLine;
using Retrieval.Bench.Campaigns;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;
using Retrieval.Service.Hosting;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval fuzz`: a seeded campaign of malformed and random requests against a loopback server.</summary>
public static class FuzzCommand
{
    public static Command Create(CliHost host)
    {
        var server = new Option<string?>("--server", "-s") { Description = "Loopback server URL. Default: start `retrieval serve` on a temporary directory as a child process (and check it never exits)." };
        var apiKey = new Option<string?>("--api-key") { Description = "API key, when the server needs one." };
        var iterations = new Option<int>("--iterations", "-n") { Description = "Requests to send (each one call).", DefaultValueFactory = _ => 20_000 };
        var seed = new Option<int>("--seed") { Description = "Random seed: the same seed sends the same requests.", DefaultValueFactory = _ => 1 };
        var withText = new Option<bool>("--with-text") { Description = "Also send text to a text-encoder collection (the server loads MiniLM; slower)." };
        var maxDims = new Option<int>("--max-dims") { Description = "The server's max dimension (oversized vectors go just above it).", DefaultValueFactory = _ => ServiceLimits.Default.MaxDimension };
        var maxBatch = new Option<int>("--max-batch") { Description = "The server's max batch (oversized batches go just above it).", DefaultValueFactory = _ => ServiceLimits.Default.MaxBatch };
        var command = new Command("fuzz",
            "Fuzz a server: random bytes as protobuf bodies of every method, mutated valid requests, random field values " +
            "(wrong and oversized dimensions, NaN, unknown collections and enum values, odd ids, invalid JSON payloads, " +
            "oversized batches), odd schemas and garbage inside streaming upserts. Every reply must be a proper gRPC status, " +
            "and the server must stay healthy and still answer a create/upsert/search round trip. Exit 1 otherwise.")
        {
            server, apiKey, iterations, seed, withText, maxDims, maxBatch,
        };
        host.Examples(command, "retrieval fuzz --iterations 20000", "retrieval fuzz --server http://127.0.0.1:50051 --seed 7 --json");
        command.SetAction(parse =>
        {
            ServerProcess? child = null;
            string? temp = null;
            try
            {
                Uri url;
                if (parse.GetValue(server) is { } s)
                {
                    if (!Uri.TryCreate(s, UriKind.Absolute, out url!)) throw new UsageException($"--server '{s}' is not a URL");
                }
                else
                {
                    temp = Path.Combine(Path.GetTempPath(), "retrieval-fuzz-" + Guid.NewGuid().ToString("N")[..8]);
                    child = ServerProcess.StartAsync(ServerProcess.SelfLauncher(typeof(Program).Assembly.Location), temp, [], TimeSpan.FromSeconds(60))
                        .GetAwaiter().GetResult();
                    url = child.Address;
                }
                long rssStart = child?.ResidentBytes() ?? -1;
                var options = new FuzzOptions
                {
                    Server = url,
                    ApiKey = parse.GetValue(apiKey),
                    Iterations = parse.GetValue(iterations),
                    Seed = parse.GetValue(seed),
                    WithText = parse.GetValue(withText),
                    MaxDimension = parse.GetValue(maxDims),
                    MaxBatch = parse.GetValue(maxBatch),
                };
                var result = FuzzCampaign.RunAsync(options, new Progress<string>(line => { if (!parse.GetValue(host.Quiet)) host.Error.WriteLine(line); }))
                    .GetAwaiter().GetResult();
                bool exited = child?.HasExited ?? false;
                long rssEnd = child is { HasExited: false } ? child.ResidentBytes() : -1;
                bool passed = result.Passed && !exited;
                var statuses = new SortedDictionary<string, long>(StringComparer.Ordinal);
                foreach (var (status, count) in result.Statuses) statuses[status.ToString()] = count;
                if (parse.GetValue(host.Json))
                {
                    host.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
                    {
                        ["iterations"] = options.Iterations,
                        ["seed"] = options.Seed,
                        ["calls"] = result.Calls,
                        ["statuses"] = statuses,
                        ["failures"] = result.Failures,
                        ["server_exited"] = exited,
                        ["healthy_after"] = result.HealthyAfter,
                        ["round_trip_after"] = result.WorksAfter,
                        ["server_rss_start_bytes"] = rssStart,
                        ["server_rss_end_bytes"] = rssEnd,
                        ["seconds"] = Math.Round(result.Seconds, 1),
                        ["passed"] = passed,
                    }));
                }
                else
                {
                    string counts = string.Join(", ", statuses.Select(p => FormattableString.Invariant($"{p.Key} {p.Value}")));
                    string memory = rssStart > 0 ? FormattableString.Invariant($", server RSS {rssStart / 1048576.0:F0} -> {rssEnd / 1048576.0:F0} MiB") : "";
                    host.Out.WriteLine(FormattableString.Invariant($"{result.Calls} calls in {result.Seconds:F1} s (seed {options.Seed}): {counts}"));
                    host.Out.WriteLine(FormattableString.Invariant(
                        $"failures {result.Failures}, server exited {(exited ? "yes" : "no")}, healthy after {(result.HealthyAfter ? "yes" : "no")}, round trip after {(result.WorksAfter ? "yes" : "no")}{memory}: {(passed ? "PASSED" : "FAILED")}"));
                }
                foreach (var sample in result.FailureSamples) host.Error.WriteLine("failure: " + sample);
                if (!parse.GetValue(host.Quiet))
                    foreach (var note in result.UndecodableReplies) host.Error.WriteLine("undecodable body answered: " + note);
                host.Out.Flush();
                if (!passed) throw new RetrievalException(ErrorKind.Internal, "fuzz campaign failed: an improper reply, a crash, or an unhealthy server afterwards");
                return ExitCodes.Success;
            }
            finally
            {
                child?.Dispose();
                if (temp is not null) try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            }
        });
        return command;
    }
}
