using Retrieval.Cli.Hosting;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Service.Hosting;
using Retrieval.Tests.Service;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Engine;

/// <summary>`retrieval client attach` against a real loopback server: attach, search, describe, and a wrong-dims error.</summary>
public sealed class AttachThroughServerTests : IAsyncLifetime
{
    private RetrievalServer _server = null!;

    public async Task InitializeAsync() => _server = await RetrievalServer.StartAsync(ServerFixture.Options(TestData.TempDirectory()));
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Retrieval.Cli.Cli.Run(["client", "--server", _server.Address.ToString(), .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void AttachBuildOutputThenSearch()
    {
        const int dim = 16, rows = 300;
        var random = new Random(31);
        var values = new float[rows * dim];
        for (int i = 0; i < values.Length; i++) values[i] = (float)random.NextDouble();
        var index = Path.Combine(TestData.TempDirectory(), "spann");
        SpannBuilder.Build(DenseVectors.FromFloat32(values, rows, dim), index, new SpannBuildOptions { Metric = Metric.L2, Threads = 1 });

        Assert.Equal(ExitCodes.Success, Run("create", "bulk", "--dense-dims", "16", "--metric", "l2").Code);
        Assert.Equal(ExitCodes.Success, Run("create", "narrow", "--dense-dims", "8", "--metric", "l2").Code);
        var (code, output, error) = Run("attach", "bulk", "--index", index, "--json");
        Assert.True(code == ExitCodes.Success, error);
        Assert.Contains("\"rows\":300", output);

        var query = Path.Combine(TestData.TempDirectory(), "q.json");
        File.WriteAllText(query, string.Join(",", values.AsSpan(123 * dim, dim).ToArray().Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
        (code, output, error) = Run("search", "bulk", "--vector-file", query, "--k", "1", "--json");
        Assert.True(code == ExitCodes.Success, error);
        Assert.Contains("\"id\":\"123\"", output.Replace(" ", ""));

        (code, _, error) = Run("attach", "narrow", "--index", index);
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("16-d vectors, the collection's dense field has 8", error);
        (code, _, error) = Run("attach", "bulk", "--index", index + "-nowhere");
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("does not exist", error);
    }
}
