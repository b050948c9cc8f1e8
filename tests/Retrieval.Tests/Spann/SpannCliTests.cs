using System.Text.Json;
using Retrieval.Cli.Hosting;
using Retrieval.Tests.Cli;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

public class SpannCliTests
{
    private static List<JsonElement> JsonLines(CliRunner.Outcome outcome)
    {
        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        var lines = new List<JsonElement>();
        foreach (var line in outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            lines.Add(JsonDocument.Parse(line).RootElement.Clone());
        return lines;
    }

    [Fact]
    public void BuildThenSearchThroughTheIndexRegistry()
    {
        var dir = Path.Combine(TestData.TempDirectory(), "cli-spann");
        var fixture = TestData.Fixture("tiny-dense");
        var build = JsonLines(CliRunner.Run("build", "spann", "--input", Path.Combine(fixture, "base.u8bin"), "--out", dir,
            "--metric", "l2", "--head-ratio", "0.1", "--storage", "f16", "--json"));
        Assert.Equal(200, build[0].GetProperty("heads").GetInt32());
        Assert.Equal(0, build[0].GetProperty("vectors_in_no_posting").GetInt64());
        Assert.True(build[0].GetProperty("peak_rss_bytes").GetInt64() > 0);

        var lines = JsonLines(CliRunner.Run("search", "--index", dir, "--dataset", fixture, "--heads", "32", "--eps2", "-1", "--direct-io", "--json"));
        var line = Assert.Single(lines);
        Assert.Equal("spann", line.GetProperty("index").GetString());
        Assert.Equal(32, line.GetProperty("heads").GetInt32());
        Assert.Equal("direct", line.GetProperty("io").GetString());
        Assert.True(line.GetProperty("recall_at_k").GetDouble() >= 0.9, line.ToString());
        Assert.True(line.GetProperty("reads_per_query").GetDouble() >= 1);

        var sweep = JsonLines(CliRunner.Run("search", "--index", dir, "--dataset", fixture, "--sweep", "--in-memory", "--json"));
        Assert.True(sweep.Count >= 5);
    }

    [Fact]
    public void SpannKnobsOnExactSearchAreAnError()
    {
        var outcome = CliRunner.Run("search", "--exact", "--dataset", TestData.Fixture("tiny-dense"), "--heads", "8");
        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains("SPANN options", outcome.Stderr);
    }

    [Fact]
    public void BuildFromAMissingFileIsAClearError()
    {
        var outcome = CliRunner.Run("build", "spann", "--input", "/nonexistent/base.fvecs", "--out", Path.Combine(TestData.TempDirectory(), "x"));
        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains("error:", outcome.Stderr);
    }
}
