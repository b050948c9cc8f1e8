using System.Text.Json;
using Retrieval.Bench.Benchmarks.Engine;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Query.Indexes;
using Retrieval.Service.Hosting;
using Retrieval.Tests.Cli;
using Retrieval.Tests.Engine;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Bench;

/// <summary>`retrieval bench engine` end to end on tiny-dense (2,000 SIFT rows, 50 queries): embedded, through a real server, and its input errors.</summary>
public sealed class EngineBenchmarkTests
{
    private static readonly string[] Fields =
    [
        "phase", "round", "k", "clients", "vectors", "ingest_per_s", "updates_per_s", "recall_at_k", "mean_us", "p50_us", "p99_us", "qps",
        "server_rss_bytes", "disk_bytes",
    ];

    private static List<JsonElement> JsonLines(CliRunner.Outcome outcome)
    {
        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        return outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    /// <summary>
    /// A real memory cap: the bench starts `retrieval serve` inside a cgroup v1 memory cgroup of 512 MiB (the kernel
    /// enforces it) with `--memory-limit` to match; the run completes, the server is never OOM-killed, and the last
    /// line reports the group's peak under the limit. Where this machine has no writable memory controller the line
    /// says so, and the run must still complete uncapped.
    /// </summary>
    [Fact]
    public void StartedServerRunsUnderAKernelMemoryCap()
    {
        var lines = JsonLines(CliRunner.Run("bench", "engine", "--dataset", TestData.Fixture("tiny-dense"), "--start-server",
            "--memory-limit", "512M", "--max-queries", "20", "--batch", "500", "--json"));
        Assert.Equal(["defaults", "ingest", "search", "memory_cap"], lines.Select(l => l.GetProperty("phase").GetString()));
        var cap = lines[^1];
        Assert.Equal(512L << 20, cap.GetProperty("limit_bytes").GetInt64());
        Assert.True(cap.GetProperty("server_alive").GetBoolean(), cap.ToString());
        Assert.True(lines[2].GetProperty("recall_at_k").GetDouble() >= 0.99, lines[2].ToString());
        string enforcedBy = cap.GetProperty("enforced_by").GetString()!;
        if (Directory.Exists("/sys/fs/cgroup/memory") && File.Exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        {
            Assert.StartsWith("cgroup v1 /sys/fs/cgroup/memory/retrieval-bench-", enforcedBy);
            Assert.Equal(0, cap.GetProperty("oom_kills").GetInt64());
            long peak = cap.GetProperty("cgroup_peak_bytes").GetInt64();
            Assert.True(peak > 0 && peak <= 512L << 20, cap.ToString());
        }
        else Assert.StartsWith("none: ", enforcedBy);
    }

    /// <summary>Through the CLI with engine defaults: ingest, search (1 and 2 clients), two update rounds; every phase line has every field.</summary>
    [Fact]
    public void EmbeddedRunReportsEveryPhase()
    {
        var lines = JsonLines(CliRunner.Run("bench", "engine", "--dataset", TestData.Fixture("tiny-dense"), "--updates", "2",
            "--update-fraction", "0.1", "--clients", "2", "--batch", "300", "--json"));
        Assert.Equal(["defaults", "ingest", "search", "search", "update_round", "update_round"], lines.Select(l => l.GetProperty("phase").GetString()));
        Assert.Equal("embedded", lines[0].GetProperty("mode").GetString());
        Assert.Equal(8192, lines[0].GetProperty("seal_rows").GetInt32());
        foreach (var line in lines.Skip(1))
        {
            foreach (var field in Fields) Assert.True(line.TryGetProperty(field, out _), $"{field} missing in {line}");
            Assert.Equal(2000, line.GetProperty("vectors").GetInt32());
            Assert.Equal(10, line.GetProperty("k").GetInt32());
            Assert.True(line.GetProperty("server_rss_bytes").GetInt64() > 0);
            Assert.True(line.GetProperty("disk_bytes").GetInt64() > 0);
        }
        Assert.True(lines[1].GetProperty("ingest_per_s").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, lines[1].GetProperty("recall_at_k").ValueKind);
        Assert.Equal(2, lines[3].GetProperty("clients").GetInt32());
        Assert.True(lines[3].GetProperty("qps").GetDouble() > 0);
        for (int i = 2; i < lines.Count; i++)
        {
            // Below the seal size everything is scanned exactly: recall against exact truth of the live rows is 1.
            Assert.True(lines[i].GetProperty("recall_at_k").GetDouble() >= 0.99, lines[i].ToString());
            Assert.True(lines[i].GetProperty("p50_us").GetDouble() > 0);
        }
        Assert.Equal(1, lines[4].GetProperty("round").GetInt32());
        Assert.Equal(2, lines[5].GetProperty("round").GetInt32());
        Assert.True(lines[5].GetProperty("updates_per_s").GetDouble() > 0);
    }

    /// <summary>
    /// Against a real server (in this process, seal size 500 so segments seal and index in the background, and tombstones
    /// from the update rounds are waited out through background_jobs): recall stays high and the server's RSS is sampled
    /// through its process id.
    /// </summary>
    [Fact]
    public async Task ServerRunSettlesAndKeepsRecall()
    {
        var dataDir = TestData.TempDirectory();
        await using var server = await RetrievalServer.StartAsync(new ServerOptions
        {
            DataDirectory = dataDir,
            Port = 0,
            Engine = EngineTestSupport.Small(sealRows: 500),
            LogLevel = Microsoft.Extensions.Logging.LogLevel.None,
        });
        var reports = new List<IReport>();
        await EngineBenchmark.RunAsync(new EngineBenchmarkOptions
        {
            Dataset = TestData.Fixture("tiny-dense"),
            Server = server.Address.ToString(),
            ServerProcessId = Environment.ProcessId,
            ServerDataDirectory = dataDir,
            Batch = 250,
            Updates = 2,
            UpdateFraction = 0.2,
            Clients = 3,
        }, (_, lines) => reports.AddRange(lines), ProgressReporter.Silent);
        var lines = reports.Select(r => JsonDocument.Parse(ReportJson.ToJsonLine(r)).RootElement.Clone()).ToList();
        Assert.Equal(["defaults", "ingest", "search", "search", "update_round", "update_round"], lines.Select(l => l.GetProperty("phase").GetString()));
        Assert.Equal("server", lines[0].GetProperty("mode").GetString());
        foreach (var line in lines.Skip(1))
        {
            foreach (var field in Fields) Assert.True(line.TryGetProperty(field, out _), $"{field} missing in {line}");
            Assert.Equal(2000, line.GetProperty("vectors").GetInt32());
            Assert.True(line.GetProperty("server_rss_bytes").GetInt64() > 0);
            Assert.True(line.GetProperty("disk_bytes").GetInt64() > 0);
        }
        for (int i = 2; i < lines.Count; i++) Assert.True(lines[i].GetProperty("recall_at_k").GetDouble() >= 0.9, lines[i].ToString());
        Assert.Equal(3, lines[3].GetProperty("clients").GetInt32());
        // 2,000 rows at seal size 500: four sealed segments (exact below the default 4,096 index rows) and the mutable one, all settled.
        Assert.Equal(5, lines[1].GetProperty("segments").GetInt32());
        Assert.Equal(0, lines[1].GetProperty("indexed_segments").GetInt32());
    }

    [Theory]
    [InlineData(2, "no-such-dataset-xyz")]
    [InlineData(2, "tiny", "--k", "0")]
    [InlineData(2, "tiny", "--update-fraction", "1.5")]
    [InlineData(2, "tiny", "--update-fraction", "0")]
    [InlineData(1, "tiny", "--server", "http://127.0.0.1:1")]
    public void BadInputGetsAClearError(int exitKind, string dataset, params string[] extra)
    {
        string path = dataset == "tiny" ? TestData.Fixture("tiny-dense") : dataset;
        var outcome = CliRunner.Run(["bench", "engine", "--dataset", path, .. extra]);
        Assert.NotEqual(ExitCodes.Success, outcome.ExitCode);
        if (dataset != "tiny") Assert.Contains(dataset, outcome.Stderr);
        else if (extra[0] == "--k") Assert.Contains("--k", outcome.Stderr);
        else if (extra[0] == "--update-fraction") Assert.Contains("(0, 1)", outcome.Stderr);
        else Assert.Contains("cannot reach the server", outcome.Stderr);
        if (dataset == "tiny" && extra[0] == "--server") Assert.Equal(exitKind, outcome.ExitCode);
    }
}

/// <summary>The bench's recall: exact truth over the live rows (keys mapped to rows), counted tie-aware.</summary>
public sealed class EngineBenchmarkRecallTests
{
    [Fact]
    public void RecallCountsOnlyTrueNeighboursOfTheLiveRows()
    {
        float[][] vectors = [[0f], [1f], [10f], [1f]];
        // Key 7 holds row 0's vector, key 8 row 2's; key 1 is not live.
        var rowOfKey = new Dictionary<long, int> { [7] = 0, [8] = 2, [3] = 3 };
        var live = new List<long> { 7, 8, 3 };
        var queries = Retrieval.Query.Indexes.QuerySet.FromDense(Retrieval.Index.Vectors.DenseVectors.FromFloat32([0.1f], 1, 1));
        var truth = EngineBenchmark.ExactTruth(vectors, live, rowOfKey, queries, Retrieval.Index.Vectors.Metric.L2, 2, ProgressReporter.Silent);
        Assert.Equal([7L, 3L], truth.Keys[0]);
        var ids = new int[2];
        var scores = new float[2];
        Assert.Equal(1.0, EngineBenchmark.Recall(truth, 0, [3, 7], ids, scores));
        Assert.Equal(0.5, EngineBenchmark.Recall(truth, 0, [7, 8], ids, scores));
        Assert.Equal(0.5, EngineBenchmark.Recall(truth, 0, [7, 1], ids, scores));
        Assert.Equal(0.0, EngineBenchmark.Recall(truth, 0, [8], ids, scores));
    }
}
