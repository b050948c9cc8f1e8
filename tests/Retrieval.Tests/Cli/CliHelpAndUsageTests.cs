using Retrieval.Cli.Hosting;

namespace Retrieval.Tests.Cli;

public class CliHelpAndUsageTests
{
    public static TheoryData<string> CommandPaths()
    {
        var data = new TheoryData<string>();
        foreach (var path in CliRunner.AllCommandPaths()) data.Add(string.Join(' ', path));
        return data;
    }

    [Theory]
    [MemberData(nameof(CommandPaths))]
    public void EveryCommandHasHelpWithADescriptionAndAnExample(string path)
    {
        string[] args = [.. path.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"];

        var outcome = CliRunner.Run(args);

        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        Assert.Contains("Description:", outcome.Stdout);
        Assert.Contains("Usage:", outcome.Stdout);
        Assert.Contains("Examples:", outcome.Stdout);
        Assert.Contains("  retrieval " + path, outcome.Stdout.Replace("retrieval  ", "retrieval "));
        Assert.Equal("", outcome.Stderr);
    }

    [Fact]
    public void CommandTreeHasTheContractCommands()
    {
        var paths = CliRunner.AllCommandPaths().Select(p => string.Join(' ', p)).ToHashSet();

        Assert.Superset(new HashSet<string> { "datasets list", "datasets prepare", "gt", "search", "eval", "bench exact" }, paths);
    }

    [Fact]
    public void EveryLeafCommandAcceptsJson()
    {
        foreach (var path in CliRunner.AllCommandPaths())
        {
            if (path.Length == 0) continue;
            var outcome = CliRunner.Run([.. path, "--json", "--help"]);
            Assert.True(outcome.ExitCode == ExitCodes.Success, string.Join(' ', path) + ": " + outcome);
            Assert.Contains("--json", outcome.Stdout);
        }
    }

    [Fact]
    public void UnknownOptionIsAUsageError()
    {
        var outcome = CliRunner.Run("search", "--exact", "--dataset", "x", "--no-such-option");

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains("error: ", outcome.Stderr);
        Assert.Contains("--no-such-option", outcome.Stderr);
        Assert.Contains("retrieval search --help", outcome.Stderr);
        Assert.Equal("", outcome.Stdout);
    }

    [Fact]
    public void NoCommandIsAUsageError()
    {
        var outcome = CliRunner.Run();

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains("retrieval --help", outcome.Stderr);
    }

    [Fact]
    public void ExactAndIndexTogetherIsAUsageError()
    {
        var outcome = CliRunner.Run("search", "--exact", "--index", "/tmp/x", "--dataset", "tiny");

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains("exactly one of --exact or --index", outcome.Stderr);
    }

    [Fact]
    public void DatasetWithFilesIsAUsageError()
    {
        var outcome = CliRunner.Run("search", "--exact", "--dataset", "tiny", "--base", "b.fvecs");

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains("--dataset supplies", outcome.Stderr);
    }

    [Fact]
    public void UnknownMetricIsAUsageError()
    {
        var outcome = CliRunner.Run("search", "--exact", "--dataset", "tiny", "--metric", "hamming");

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains("hamming", outcome.Stderr);
    }

    [Fact]
    public void HybridEvalRefusesAnEmbeddedDataDirectoryWithAServer()
    {
        var outcome = CliRunner.Run("eval", "--dataset", CliHybridEvalTests.TinyBeirDataset(), "--mode", "hybrid",
            "--server", "http://127.0.0.1:1", "--data", "/tmp/x");

        Assert.NotEqual(ExitCodes.Success, outcome.ExitCode);
        Assert.StartsWith("error: ", outcome.Stderr);
        Assert.Contains("--data", outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stderr); // no stack trace for an explained error
    }
}
