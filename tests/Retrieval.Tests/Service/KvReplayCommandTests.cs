using System.Text.Json;
using Retrieval.Cli.Hosting;
using Retrieval.Service.Hosting;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Service;

/// <summary>`retrieval client kv-replay` in-process against a real server: the KV cache service driven end to end from the CLI.</summary>
public sealed class KvReplayCommandTests : IAsyncLifetime
{
    private RetrievalServer _server = null!;

    public async Task InitializeAsync() => _server = await RetrievalServer.StartAsync(ServerFixture.Options(TestData.TempDirectory()));
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Retrieval.Cli.Cli.Run(["client", "--server", _server.Address.ToString(), "kv-replay", .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void ReplaysSearchAttendAndAppendsWithMeasuredRecall()
    {
        var (code, output, error) = Run("--dataset", TestData.Fixture("kv-tiny"), "--k", "10", "--window", "16",
            "--query-heads", "2", "--attend", "--appends", "32", "--append-mode", "query-guided", "--json", "--quiet");
        Assert.True(code == ExitCodes.Success, error);
        var passes = output.Trim().Split('\n').Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.Equal(["search", "attend", "search after 32 appends"], passes.Select(p => p.GetProperty("pass").GetString()));

        var search = passes[0];
        Assert.Equal(320, search.GetProperty("keys").GetInt32());
        Assert.Equal(2, search.GetProperty("query_heads_per_call").GetInt32());
        Assert.Equal(8, search.GetProperty("calls").GetInt32()); // 16 decode queries, 2 per call
        Assert.True(search.GetProperty("recall_at_k").GetDouble() >= 0.9, output);
        Assert.Equal(0, search.GetProperty("static_hits").GetInt32());
        double scored = search.GetProperty("keys_scored_fraction").GetDouble();
        Assert.InRange(scored, 0.01, 1.0);

        // The server's partial attention merged with the static part can be no better than the exact top-k's, and
        // with near-perfect recall it is the same.
        var attend = passes[1];
        double served = attend.GetProperty("attention_rel_error").GetDouble();
        double floor = attend.GetProperty("exact_top_k_attention_rel_error").GetDouble();
        Assert.True(double.IsFinite(served) && Math.Abs(served - floor) < 0.05 * Math.Max(1, floor), output);

        var after = passes[2];
        Assert.Equal(352, after.GetProperty("keys").GetInt32());
        Assert.True(after.GetProperty("recall_at_k").GetDouble() >= 0.9, output);
        Assert.True(after.GetProperty("append_mean_us").GetDouble() > 0);
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        var (code, _, error) = Run("--dataset", TestData.Fixture("kv-tiny"), "--k", "1000");
        Assert.NotEqual(ExitCodes.Success, code);
        Assert.Contains("k 1000 exceeds the 60 keys outside the static part", error);

        (code, _, error) = Run("--dataset", TestData.Fixture("kv-tiny"), "--k", "10", "--window", "16", "--appends", "100000");
        Assert.NotEqual(ExitCodes.Success, code);
        Assert.Contains("run past the dataset's last row (384)", error);

        (code, _, error) = Run("--dataset", Path.Combine(TestData.TempDirectory(), "missing"));
        Assert.NotEqual(ExitCodes.Success, code);
        Assert.Contains("not found", error);
    }
}
