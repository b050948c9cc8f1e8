using System.CommandLine;
using System.Globalization;
using Retrieval.Bench.Campaigns;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval crashtest`: SIGKILL the real server at many random points and verify recovery.</summary>
public static class CrashTestCommand
{
    public static Command Create(CliHost host)
    {
        var iterations = new Option<int>("--iterations", "-n") { Description = "Kill points.", DefaultValueFactory = _ => 100 };
        var data = new Option<string?>("--data") { Description = "Data directory (default: a new temporary directory, deleted afterwards)." };
        var writers = new Option<int>("--writers") { Description = "Concurrent upsert writers.", DefaultValueFactory = _ => 4 };
        var batch = new Option<int>("--batch") { Description = "Records per upsert call.", DefaultValueFactory = _ => 16 };
        var seed = new Option<int>("--seed") { Description = "Random seed (kill delays, vectors).", DefaultValueFactory = _ => 1 };
        var command = new Command("crashtest",
            "Start `retrieval serve` as a child process, stream upserts from several writers, kill it with SIGKILL at random " +
            "points, restart it, and verify that every acknowledged record is present with its exact vector and found by " +
            "search, and that no unacknowledged batch is half applied. Exit 1 when anything was lost.")
        {
            iterations, data, writers, batch, seed,
        };
        host.Examples(command, "retrieval crashtest --iterations 100", "retrieval crashtest -n 10 --json");
        command.SetAction(parse =>
        {
            string? given = parse.GetValue(data);
            string dir = given ?? Path.Combine(Path.GetTempPath(), "retrieval-crashtest-" + Guid.NewGuid().ToString("N")[..8]);
            var self = typeof(Program).Assembly.Location;
            var options = new CrashTestOptions
            {
                Launcher = ServerProcess.SelfLauncher(self),
                DataDirectory = dir,
                Iterations = parse.GetValue(iterations),
                Writers = Math.Max(1, parse.GetValue(writers)),
                BatchSize = Math.Max(1, parse.GetValue(batch)),
                Seed = parse.GetValue(seed),
            };
            CrashTestResult result;
            try
            {
                result = CrashTest.RunAsync(options, new Progress<string>(line => { if (!parse.GetValue(host.Quiet)) host.Error.WriteLine(line); })).GetAwaiter().GetResult();
            }
            finally
            {
                if (given is null) try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            }
            var c = CultureInfo.InvariantCulture;
            if (parse.GetValue(host.Json))
            {
                host.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["kill_points"] = result.KillPoints,
                    ["recoveries"] = result.Recoveries,
                    ["failed_recoveries"] = result.FailedRecoveries,
                    ["acknowledged_records"] = result.AcknowledgedRecords,
                    ["lost_acknowledged"] = result.LostAcknowledged,
                    ["half_applied_batches"] = result.HalfAppliedBatches,
                    ["unacknowledged_applied"] = result.UnacknowledgedApplied,
                    ["unacknowledged_absent"] = result.UnacknowledgedAbsent,
                    ["search_checks"] = result.SearchChecks,
                    ["search_failures"] = result.SearchFailures,
                    ["seconds"] = Math.Round(result.Seconds, 1),
                    ["passed"] = result.Passed,
                }));
            }
            else
            {
                host.Out.WriteLine(string.Create(c, $"kill points {result.KillPoints}, recoveries {result.Recoveries} ({result.FailedRecoveries} failed), " +
                    $"acknowledged records {result.AcknowledgedRecords}, lost {result.LostAcknowledged}, half-applied batches {result.HalfAppliedBatches}, " +
                    $"unacknowledged batches applied {result.UnacknowledgedApplied} / absent {result.UnacknowledgedAbsent}, " +
                    $"search checks {result.SearchChecks} ({result.SearchFailures} failed), {result.Seconds:F1} s: {(result.Passed ? "PASSED" : "FAILED")}"));
            }
            foreach (var problem in result.Problems) host.Error.WriteLine("problem: " + problem);
            host.Out.Flush();
            if (!result.Passed) throw new RetrievalException(ErrorKind.Corrupt, "crash test failed: acknowledged data was lost or a recovery failed");
            return ExitCodes.Success;
        });
        return command;
    }
}
