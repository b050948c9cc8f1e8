using System.Text.Json;
using Retrieval.Cli.Hosting;
using Retrieval.Tests.Cli;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Attention;

public class CliBenchKvTests
{
    [Fact]
    public void BenchKvOnTheTinyFixturePrintsOneJsonObjectPerMethodAndSetting()
    {
        var outcome = CliRunner.Run("bench", "kv", "--dataset", TestData.Fixture("kv-tiny"), "--k", "10", "--ef", "16,320",
            "--appends", "16", "--skip", "hnsw", "batch", "--json", "--quiet");
        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        var lines = outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        var rows = lines.Where(l => l.TryGetProperty("method", out _)).ToList();
        // exact 1 + ivf 5 probes + attention 2 ef values, k = 10 only.
        Assert.Equal(1 + 5 + 2, rows.Count);
        Assert.Equal("kv", lines[0].GetProperty("defaults").GetString());
        foreach (var field in new[] { "method", "settings", "k", "recall_at_k", "keys_scored_fraction", "mean_us", "p99_us",
                     "build_seconds_per_head", "index_bytes", "attention_rel_error" })
            Assert.All(rows, r => Assert.True(r.TryGetProperty(field, out _), $"missing {field}"));
        var wide = rows.Single(r => r.GetProperty("method").GetString() == "attention" && r.GetProperty("settings").GetString()!.EndsWith("ef=320"));
        Assert.Equal(1.0, wide.GetProperty("recall_at_k").GetDouble(), 6);
        var appends = lines.Where(l => l.TryGetProperty("measurement", out var m) && m.GetString() == "append").ToList();
        Assert.Equal(new[] { "query-guided", "buffered" }, appends.Select(a => a.GetProperty("mode").GetString()!).ToArray());
        Assert.All(appends, a => Assert.Equal(16, a.GetProperty("appends").GetInt32()));
    }

    [Fact]
    public void BenchKvOnAMissingDatasetFailsWithNotFound()
    {
        var outcome = CliRunner.Run("bench", "kv", "--dataset", "no-such-kv-dataset", "--quiet");
        Assert.NotEqual(ExitCodes.Success, outcome.ExitCode);
        Assert.Contains("no-such-kv-dataset", outcome.Stderr);
    }
}
