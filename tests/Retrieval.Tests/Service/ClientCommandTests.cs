using Retrieval.Bench.Campaigns;
using Retrieval.Cli.Hosting;
using Retrieval.Service.Hosting;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Service;

/// <summary>`retrieval client ...` in-process against a real server on a loopback port.</summary>
public sealed class ClientCommandTests : IAsyncLifetime
{
    private RetrievalServer _server = null!;
    private string Url => _server.Address.ToString();

    public async Task InitializeAsync() => _server = await RetrievalServer.StartAsync(ServerFixture.Options(TestData.TempDirectory()));
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Retrieval.Cli.Cli.Run(["client", "--server", Url, .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void CreateUpsertSearchDescribeGetDeleteDrop()
    {
        var (code, output, error) = Run("create", "docs", "--dense-dims", "3", "--metric", "l2", "--sparse", "--vocab", "50");
        Assert.True(code == ExitCodes.Success, error);
        Assert.Contains("docs\trecords 0", output);

        var file = Path.Combine(TestData.TempDirectory(), "records.jsonl");
        File.WriteAllLines(file,
        [
            """{"id":"a","vector":[0,0,0],"sparse":{"indices":[1,2],"values":[1,1]},"payload":{"title":"origin"}}""",
            """{"id":"b","vector":[1,0,0],"sparse":{"indices":[2],"values":[3]},"payload":{"title":"x"}}""",
            "",
            """{"id":"c","vector":[9,9,9],"sparse":{"indices":[7],"values":[1]}}""",
        ]);
        (code, output, error) = Run("upsert", "docs", "--file", file, "--batch", "2");
        Assert.True(code == ExitCodes.Success, error);
        Assert.Equal("upserted 3", output.Trim());

        (code, output, _) = Run("describe", "docs", "--json");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("\"recordCount\": \"3\"", output);

        (code, output, error) = Run("search", "docs", "--vector", "0.1,0,0", "--mode", "dense", "--k", "2", "--with-payload", "--json");
        Assert.True(code == ExitCodes.Success, error);
        var lines = output.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("{\"rank\":1,\"id\":\"a\",\"score\":0.01", lines[0]);
        Assert.Contains("\"payload\":{\"title\":\"origin\"}", lines[0]);

        (code, output, _) = Run("get", "docs", "b", "zz");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("b\t{\"title\":\"x\"}", output);
        Assert.Contains("zz\t(not found)", output);

        (code, output, _) = Run("delete", "docs", "a", "zz");
        Assert.Equal("deleted 1", output.Trim());
        (code, output, _) = Run("compact", "docs");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Equal("nothing to compact", output.Trim()); // three records never filled a segment
        (code, output, _) = Run("list");
        Assert.Contains("docs\trecords 2", output);
        (code, output, _) = Run("drop", "docs");
        Assert.Equal(ExitCodes.Success, code);
        (code, _, error) = Run("describe", "docs");
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("server replied NotFound: collection 'docs' does not exist", error);
    }

    [Fact]
    public void BadRecordsFileNamesFileAndLine()
    {
        Run("create", "f", "--dense-dims", "2", "--metric", "l2");
        var file = Path.Combine(TestData.TempDirectory(), "bad.jsonl");
        File.WriteAllLines(file, ["""{"id":1,"vector":[1,2]}""", """{"id":2,"vectr":[1,2]}"""]);
        var (code, _, error) = Run("upsert", "f", "--file", file);
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains(file, error);
        Assert.Contains("unknown field \"vectr\"", error);
    }

    [Fact]
    public void UnreachableServerIsAClearError()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Retrieval.Cli.Cli.Run(["client", "--server", "http://127.0.0.1:1", "list"], stdout, stderr);
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("cannot reach the server at http://127.0.0.1:1", stderr.ToString());
    }
}

/// <summary>The real server as a child process, SIGKILLed at random points (a few here; `retrieval crashtest` runs 100+).</summary>
public sealed class CrashRecoveryTests
{
    [Fact]
    public async Task AcknowledgedWritesSurviveSigkill()
    {
        var result = await CrashTest.RunAsync(new CrashTestOptions
        {
            Launcher = ServerProcess.SelfLauncher(typeof(Retrieval.Cli.Program).Assembly.Location),
            DataDirectory = TestData.TempDirectory(),
            Iterations = 3,
            Writers = 2,
            BatchSize = 8,
            SearchSamples = 10,
            // Long enough that some writes are acknowledged before the kill even on a busy 2-core machine.
            MaxKillDelay = TimeSpan.FromMilliseconds(1500),
        });
        Assert.True(result.Passed, string.Join("\n", result.Problems));
        Assert.Equal(3, result.Recoveries);
        Assert.True(result.AcknowledgedRecords > 0);
        Assert.Equal(0, result.LostAcknowledged);
        Assert.Equal(0, result.HalfAppliedBatches);
    }
}
