using System.Text.Json;
using Retrieval.Cli.Hosting;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Cli;

/// <summary>`retrieval eval --mode hybrid` over the 3-document BEIR fixture in an embedded engine.</summary>
public class CliHybridEvalTests
{
    [Fact]
    public void HybridEvalPrintsDenseSparseAndBothFusionsAndReusesTheDenseCache()
    {
        var cache = Path.Combine(TestData.TempDirectory(), "beir-tiny.npy");
        string[] args = ["eval", "--dataset", TinyBeirDataset(), "--mode", "hybrid", "--fusion", "both",
            "--dense-cache", cache, "--threads", "1", "--json"];

        var first = CliRunner.Run(args);
        Assert.True(first.ExitCode == ExitCodes.Success, first.ToString());
        var lines = Lines(first.Stdout);
        Assert.Equal(["dense", "sparse", "hybrid-rrf", "hybrid-weighted"], lines.Select(l => l.GetProperty("mode").GetString()));
        foreach (var line in lines)
        {
            // Two judged queries over three documents: each mode ranks every document, so recall@100 is 1.
            Assert.Equal(2, line.GetProperty("queries").GetInt32());
            Assert.Equal(1.0, line.GetProperty("recall_at_100").GetDouble());
            Assert.InRange(line.GetProperty("ndcg_at_10").GetDouble(), 0.3, 1.0);
            Assert.StartsWith("embedded ", line.GetProperty("target").GetString());
            Assert.False(line.GetProperty("dense_from_cache").GetBoolean());
        }
        Assert.True(File.Exists(cache));

        var second = CliRunner.Run(args);
        Assert.True(second.ExitCode == ExitCodes.Success, second.ToString());
        var again = Lines(second.Stdout);
        Assert.All(again, l => Assert.True(l.GetProperty("dense_from_cache").GetBoolean()));
        for (int i = 0; i < lines.Count; i++)
            Assert.Equal(lines[i].GetProperty("ndcg_at_10").GetDouble(), again[i].GetProperty("ndcg_at_10").GetDouble(), 6);
    }

    /// <summary>The beir-tiny fixture copied into a dataset folder with a manifest.</summary>
    internal static string TinyBeirDataset()
    {
        var dir = TestData.TempDirectory();
        var source = TestData.Fixture("text", "beir-tiny");
        Directory.CreateDirectory(Path.Combine(dir, "qrels"));
        foreach (var file in new[] { "corpus.jsonl", "queries.jsonl", Path.Combine("qrels", "test.tsv") })
            File.Copy(Path.Combine(source, file), Path.Combine(dir, file));
        File.WriteAllText(Path.Combine(dir, "manifest.json"), """
            {"name": "beir-tiny", "kind": "beir",
             "corpus": {"file": "corpus.jsonl", "format": "beir-corpus", "count": 3},
             "queries": {"file": "queries.jsonl", "format": "beir-queries", "count": 3},
             "qrels": {"file": "qrels/test.tsv", "format": "beir-qrels", "count": 3}}
            """);
        return dir;
    }

    private static List<JsonElement> Lines(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
}
