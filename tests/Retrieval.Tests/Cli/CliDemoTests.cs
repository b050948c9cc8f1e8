using System.Text.Json;
using Retrieval.Bench.Demo;
using Retrieval.Cli.Hosting;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Cli;

/// <summary>`retrieval demo`: embedded collection over real text, text searches in three modes, then gRPC serving.</summary>
public class CliDemoTests
{
    [SkippableFact]
    public void DemoOverTheDebianLicenceTextsFindsTheContributorDefinition()
    {
        Skip.IfNot(Directory.Exists(LicensePassages.DefaultDirectory), $"{LicensePassages.DefaultDirectory} not present (not a Debian system)");
        var outcome = CliRunner.Run("demo", "--limit", "40", "--query", "patent license granted by each contributor", "--k", "3", "--json");

        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        var hits = outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(9, hits.Count); // 3 modes x k 3
        Assert.Equal(["hybrid-rrf", "dense", "sparse"], hits.Select(h => h.GetProperty("mode").GetString()).Distinct());
        // Among the first 40 paragraphs (round robin over the licences) the MPL definitions of "Contributor" rank first.
        var top = hits[0];
        Assert.StartsWith("MPL", top.GetProperty("id").GetString());
        Assert.Contains("\"Contributor\" means", top.GetProperty("text").GetString()!);
    }

    [Fact]
    public void DemoLoadsAGivenFileReusesTheCollectionAndServesIt()
    {
        var dir = TestData.TempDirectory();
        var texts = Path.Combine(dir, "texts.tsv");
        File.WriteAllLines(texts,
        [
            "tea\tGreen tea is made from unoxidized leaves and brewed at a low temperature.",
            "bread\tSourdough bread rises with wild yeast and lactic acid bacteria.",
            "",
            "rivers\tThe Danube flows through ten countries before reaching the Black Sea.",
            "stars\tA neutron star is the collapsed core of a massive star after a supernova.",
        ]);
        var data = Path.Combine(dir, "engine");

        var first = CliRunner.Run("demo", "--data", data, "--texts", texts, "--query", "which river crosses many countries", "--k", "2");
        Assert.True(first.ExitCode == ExitCodes.Success, first.ToString());
        Assert.Contains("loaded 4 passages", first.Stdout);
        Assert.Contains("hybrid-rrf 1. rivers", first.Stdout);

        var second = CliRunner.Run("demo", "--data", data, "--texts", texts, "--query", "yeast", "--k", "1", "--serve", "--port", "0", "--serve-seconds", "1");
        Assert.True(second.ExitCode == ExitCodes.Success, second.ToString());
        Assert.Contains("reusing collection 'licenses' (4 passages)", second.Stdout);
        Assert.Contains("gRPC hybrid search \"yeast\" -> bread", second.Stdout);
        Assert.Contains("listening on http://127.0.0.1:", second.Stderr);
        Assert.EndsWith("stopped", second.Stdout.TrimEnd());
        Assert.True(Directory.Exists(data)); // a given --data directory is kept
    }
}
