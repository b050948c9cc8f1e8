using System.Text.Json;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Cli;

/// <summary>`retrieval search` end to end on the repo's tiny-dense fixture (2,000 uint8 SIFT rows, 50 queries, exact L2 top-100).</summary>
public class CliSearchTests
{
    private static string TinyDense => TestData.Fixture("tiny-dense");

    private static JsonElement SingleJsonLine(CliRunner.Outcome outcome)
    {
        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        var lines = outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        return JsonDocument.Parse(lines[0]).RootElement.Clone();
    }

    [Fact]
    public void ExactSearchOnTheFixturePrintsTheContractWithRecallOne()
    {
        var line = SingleJsonLine(CliRunner.Run("search", "--exact", "--dataset", TinyDense, "--k", "10", "--json"));

        Assert.Equal(SearchReport.FieldNames, line.EnumerateObject().Select(p => p.Name));
        Assert.Equal("exact", line.GetProperty("index").GetString());
        Assert.Equal(50, line.GetProperty("queries").GetInt32());
        Assert.Equal(10, line.GetProperty("k").GetInt32());
        Assert.Equal(1.0, line.GetProperty("recall_at_k").GetDouble());
        Assert.Equal(1, line.GetProperty("threads").GetInt32());
        foreach (var field in new[] { "mean_us", "p50_us", "p95_us", "p99_us", "qps" })
            Assert.True(line.GetProperty(field).GetDouble() > 0, field);
        Assert.True(line.GetProperty("p50_us").GetDouble() <= line.GetProperty("p99_us").GetDouble());
        Assert.True(line.GetProperty("resident_bytes").GetInt64() > 1 << 20);
        // Exact search lives in memory: no index files, no reads.
        foreach (var field in new[] { "index_bytes_on_disk", "bytes_read_per_query", "reads_per_query" })
            Assert.Equal(JsonValueKind.Null, line.GetProperty(field).ValueKind);
    }

    [Fact]
    public void FilesInsteadOfADatasetGiveTheSameRecall()
    {
        var line = SingleJsonLine(CliRunner.Run("search", "--exact",
            "--base", Path.Combine(TinyDense, "base.u8bin"), "--queries", Path.Combine(TinyDense, "queries.u8bin"),
            "--gt", Path.Combine(TinyDense, "groundtruth.ivecs"), "--gt-scores", Path.Combine(TinyDense, "groundtruth.dist.fvecs"),
            "--metric", "l2", "--k", "100", "--max-queries", "7", "--json"));

        Assert.Equal(7, line.GetProperty("queries").GetInt32());
        Assert.Equal(1.0, line.GetProperty("recall_at_k").GetDouble());
    }

    [Fact]
    public void SearchingWithAnotherMetricThanTheTruthsLowersRecall()
    {
        // Float vectors with norms spread over two orders of magnitude: inner-product neighbours (long vectors)
        // are not L2 neighbours (close vectors). The manifest says the truth is L2, so recall of an ip search is
        // judged in L2 and must drop well below 1; the same search by L2 must score 1.
        var dir = TestData.TempDirectory();
        var rng = new Random(11);
        const int n = 400, nq = 10, d = 8;
        var data = new float[n * d];
        for (int i = 0; i < n; i++)
        {
            float scale = MathF.Pow(10, (float)rng.NextDouble() * 2 - 1);
            for (int j = 0; j < d; j++) data[i * d + j] = scale * (float)(rng.NextDouble() * 2 - 1);
        }
        var queries = new float[nq * d];
        for (int i = 0; i < queries.Length; i++) queries[i] = (float)(rng.NextDouble() * 2 - 1);
        DenseVectorFile.Write(Path.Combine(dir, "base.fvecs"), DenseVectors.FromFloat32(data, n, d));
        DenseVectorFile.Write(Path.Combine(dir, "queries.fvecs"), DenseVectors.FromFloat32(queries, nq, d));
        var gt = CliRunner.Run("gt", "--base", Path.Combine(dir, "base.fvecs"), "--queries", Path.Combine(dir, "queries.fvecs"),
            "--metric", "l2", "--k", "10", "--out", Path.Combine(dir, "gt.ivecs"), "--quiet");
        Assert.True(gt.ExitCode == ExitCodes.Success, gt.ToString());
        File.WriteAllText(Path.Combine(dir, "manifest.json"), """
            {"name": "mixed-norms", "kind": "dense", "metric": "l2", "dims": 8,
             "base": {"file": "base.fvecs", "format": "fvecs", "dtype": "float32", "count": 400},
             "queries": {"file": "queries.fvecs", "format": "fvecs", "dtype": "float32", "count": 10},
             "groundtruth": {"file": "gt.ivecs", "format": "ivecs", "k": 10}}
            """);

        var byIp = SingleJsonLine(CliRunner.Run("search", "--exact", "--dataset", dir, "--metric", "ip", "--json"));
        var byL2 = SingleJsonLine(CliRunner.Run("search", "--exact", "--dataset", dir, "--json"));

        Assert.InRange(byIp.GetProperty("recall_at_k").GetDouble(), 0.0, 0.5);
        Assert.Equal(1.0, byL2.GetProperty("recall_at_k").GetDouble());
    }

    [Fact]
    public void WithoutGroundTruthRecallIsNull()
    {
        var line = SingleJsonLine(CliRunner.Run("search", "--exact",
            "--base", Path.Combine(TinyDense, "base.u8bin"), "--queries", Path.Combine(TinyDense, "queries.u8bin"), "--json"));

        Assert.Equal(JsonValueKind.Null, line.GetProperty("recall_at_k").ValueKind);
        Assert.True(line.GetProperty("qps").GetDouble() > 0);
    }

    [Fact]
    public void SeveralThreadsMeasureThroughputOnly()
    {
        var line = SingleJsonLine(CliRunner.Run("search", "--exact", "--dataset", TinyDense, "--threads", "2", "--json"));

        Assert.Equal(2, line.GetProperty("threads").GetInt32());
        Assert.True(line.GetProperty("qps").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, line.GetProperty("mean_us").ValueKind);
        Assert.Equal(1.0, line.GetProperty("recall_at_k").GetDouble());
    }

    [Fact]
    public void SweepOverExactSearchPrintsItsOneSetting()
    {
        var line = SingleJsonLine(CliRunner.Run("search", "--exact", "--dataset", TinyDense, "--sweep", "--json"));

        Assert.Equal(1.0, line.GetProperty("recall_at_k").GetDouble());
    }

    [Fact]
    public void WithoutJsonATableIsPrinted()
    {
        var outcome = CliRunner.Run("search", "--exact", "--dataset", TinyDense, "--k", "10", "--quiet");

        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        var lines = outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("recall@k", lines[0]);
        Assert.Contains("p99 us", lines[0]);
        Assert.Contains("1.0000", lines[2]);
        Assert.Equal("", outcome.Stderr); // --quiet
    }

    [Fact]
    public void ProgressGoesToStderrNotStdout()
    {
        var outcome = CliRunner.Run("search", "--exact", "--dataset", TinyDense, "--json");

        Assert.Contains("exact search", outcome.Stderr);
        Assert.DoesNotContain("\r", outcome.Stderr); // not a terminal: plain lines
        Assert.StartsWith("{", outcome.Stdout);
    }

    [Fact]
    public void MissingFileFailsWithThePath()
    {
        var dir = TestData.TempDirectory();
        var missing = Path.Combine(dir, "no-such-base.fvecs");
        var outcome = CliRunner.Run("search", "--exact", "--base", missing, "--queries", Path.Combine(TinyDense, "queries.u8bin"));

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.StartsWith("error: ", outcome.Stderr.Split('\n').Last(l => l.Length > 0));
        Assert.Contains(missing, outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stderr);
    }

    [Fact]
    public void MissingDatasetFailsWithTheName()
    {
        var outcome = CliRunner.Run("search", "--exact", "--dataset", "no-such-dataset-xyz");

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains("no-such-dataset-xyz", outcome.Stderr);
    }

    [Fact]
    public void KZeroFailsWithExitOne()
    {
        var outcome = CliRunner.Run("search", "--exact", "--dataset", TinyDense, "--k", "0");

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains("k must be >= 1", outcome.Stderr);
    }

    [Fact]
    public void KBeyondTheGroundTruthFailsWithAHint()
    {
        var outcome = CliRunner.Run("search", "--exact", "--dataset", TinyDense, "--k", "101", "--quiet");

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains("fewer than k = 101", outcome.Stderr);
    }

    [Fact]
    public void QueriesOfAnotherDimensionFailClearly()
    {
        var dir = TestData.TempDirectory();
        var queries = Path.Combine(dir, "q.fvecs");
        Retrieval.Index.Formats.DenseVectorFile.Write(queries,
            Retrieval.Index.Vectors.DenseVectors.FromFloat32(new float[3 * 5], 3, 5));

        var outcome = CliRunner.Run("search", "--exact", "--base", Path.Combine(TinyDense, "base.u8bin"), "--queries", queries);

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains("dimension", outcome.Stderr);
    }

    [Fact]
    public void IndexDirectoryWithoutAKnownFormatIsExplained()
    {
        var dir = TestData.TempDirectory();
        File.WriteAllText(Path.Combine(dir, "manifest.json"), """{"format": "diskann", "version": 1}""");

        var outcome = CliRunner.Run("search", "--index", dir, "--dataset", TinyDense);

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains("unknown index format 'diskann'", outcome.Stderr);
        Assert.Contains("known formats: seismic, spann", outcome.Stderr);
    }

    [Fact]
    public void IndexDirectoryThatDoesNotExistIsNamed()
    {
        var missing = Path.Combine(TestData.TempDirectory(), "nothing-here");

        var outcome = CliRunner.Run("search", "--index", missing, "--dataset", TinyDense);

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains(missing, outcome.Stderr);
    }
}
