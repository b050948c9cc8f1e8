using System.Text.Json;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Cli;

public class CliDatasetsEvalBenchTests
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
    public void DatasetsListShowsTheCatalogAndTheBundledFixture()
    {
        var lines = JsonLines(CliRunner.Run("datasets", "list", "--json"));

        var names = lines.Select(l => l.GetProperty("name").GetString()).ToList();
        Assert.Contains("minilm-passages", names);
        Assert.Contains("fashion-mnist", names);
        var tiny = lines.Single(l => l.GetProperty("name").GetString() == "tiny-dense");
        Assert.True(tiny.GetProperty("available").GetBoolean());
        Assert.Equal("l2", tiny.GetProperty("metric").GetString());
        Assert.Equal(128, tiny.GetProperty("dims").GetInt32());
    }

    [Fact]
    public void DatasetsListTableHasOneRowPerSet()
    {
        var json = JsonLines(CliRunner.Run("datasets", "list", "--json"));
        var table = CliRunner.Run("datasets", "list");

        Assert.Equal(ExitCodes.Success, table.ExitCode);
        Assert.Equal(json.Count + 2, table.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void PreparingAnUnknownSetNamesIt()
    {
        var outcome = CliRunner.Run("datasets", "prepare", "no-such-set-xyz", "--out", TestData.TempDirectory());

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains("no-such-set-xyz", outcome.Stderr);
    }

    [SkippableFact]
    public void PreparedSetIsSearchableWithRecallOne()
    {
        TestData.SharedDataset("bigann10k");
        var output = Path.Combine(TestData.TempDirectory(), "bigann10k");

        var prepared = JsonLines(CliRunner.Run("datasets", "prepare", "bigann10k", "--out", output, "--json"));
        var search = JsonLines(CliRunner.Run("search", "--exact", "--dataset", output, "--threads", "0", "--json"));

        Assert.Equal(output, prepared[0].GetProperty("directory").GetString());
        Assert.True(File.Exists(Path.Combine(output, "manifest.json")));
        Assert.Equal(1.0, search[0].GetProperty("recall_at_k").GetDouble());
        Assert.Equal(100, search[0].GetProperty("queries").GetInt32());
    }

    [Fact]
    public void EvalOnANonBeirSetIsRefused()
    {
        var outcome = CliRunner.Run("eval", "--dataset", TestData.Fixture("tiny-dense"), "--mode", "bm25");

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains("BEIR", outcome.Stderr);
    }

    [SkippableFact]
    public void EvalBm25OnSciFactPrintsTheEvalSchema()
    {
        var scifact = TestData.SharedDataset("scifact");

        var line = JsonLines(CliRunner.Run("eval", "--dataset", scifact, "--mode", "bm25", "--json")).Single();

        Assert.Equal(["ndcg_at_10", "mrr_at_10", "recall_at_100"], line.EnumerateObject().Take(3).Select(p => p.Name));
        // BEIR paper BM25 on SciFact: nDCG@10 0.665; the encoder's own check holds it within 0.02.
        Assert.InRange(line.GetProperty("ndcg_at_10").GetDouble(), 0.645, 0.685);
        Assert.Equal(300, line.GetProperty("queries").GetInt32());
    }

    [Fact]
    public void BenchExactPrintsBandwidthAndThreeSearchLines()
    {
        var lines = JsonLines(CliRunner.Run("bench", "exact", "--dataset", TestData.Fixture("tiny-dense"),
            "--bandwidth-mib", "16", "--single-queries", "10", "--queries-limit", "20", "--json"));

        var bandwidth = lines.Where(l => l.TryGetProperty("measurement", out _)).ToList();
        var searches = lines.Where(l => l.TryGetProperty("index", out _)).ToList();
        Assert.Equal(2, bandwidth.Count);
        Assert.Equal(1, bandwidth[0].GetProperty("threads").GetInt32());
        Assert.All(bandwidth, b => Assert.True(b.GetProperty("bytes_per_second").GetDouble() > 0));
        Assert.Equal(3, searches.Count);
        Assert.Equal(["single-query", "batched", "batched"], searches.Select(s => s.GetProperty("mode").GetString()));
        foreach (var search in searches)
        {
            Assert.Equal(SearchReport.FieldNames, search.EnumerateObject().Take(SearchReport.FieldNames.Count).Select(p => p.Name));
            Assert.Equal(1.0, search.GetProperty("recall_at_k").GetDouble());
            Assert.True(search.GetProperty("bandwidth_fraction").GetDouble() > 0);
            Assert.Equal(2000L * 128, search.GetProperty("base_bytes").GetInt64());
        }
        Assert.True(searches[0].GetProperty("p99_us").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, searches[1].GetProperty("p99_us").ValueKind);
    }
}
