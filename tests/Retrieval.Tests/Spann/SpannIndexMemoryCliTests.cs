using System.Text.Json;
using Retrieval.Cli.Hosting;
using Retrieval.Tests.Cli;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

/// <summary>index_resident_bytes is a process-wide resident-set difference: measured with no other test running.</summary>
[CollectionDefinition(nameof(ResidentMemoryCollection), DisableParallelization = true)]
public sealed class ResidentMemoryCollection;

[Collection(nameof(ResidentMemoryCollection))]
public class SpannIndexMemoryCliTests
{
    private static JsonElement SingleLine(CliRunner.Outcome outcome)
    {
        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        var line = Assert.Single(outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    [Fact]
    public void SearchReportsWhatTheIndexCostsInMemory()
    {
        var dir = Path.Combine(TestData.TempDirectory(), "cli-spann-memory");
        var fixture = TestData.Fixture("tiny-dense");
        // f32 postings: the largest posting file the fixture gives (several MiB), well above allocation noise.
        SingleLine(CliRunner.Run("build", "spann", "--input", Path.Combine(fixture, "base.u8bin"), "--out", dir,
            "--metric", "l2", "--head-ratio", "0.1", "--storage", "f32", "--json"));
        long postingBytes = new FileInfo(Path.Combine(dir, "postings.bin")).Length;

        string[] search = ["search", "--index", dir, "--dataset", fixture, "--heads", "32", "--json"];
        // A first search pays the one-time costs of the process (JIT-compiled search code), which the later
        // lines must not be compared against.
        SingleLine(CliRunner.Run([.. search, "--in-memory"]));
        var direct = SingleLine(CliRunner.Run([.. search, "--direct-io"]));
        var memory = SingleLine(CliRunner.Run([.. search, "--in-memory"]));

        long directBytes = direct.GetProperty("index_resident_bytes").GetInt64();
        long memoryBytes = memory.GetProperty("index_resident_bytes").GetInt64();
        Assert.True(memoryBytes > 0, memory.ToString());
        Assert.True(memoryBytes < memory.GetProperty("resident_bytes").GetInt64(), memory.ToString());
        // The in-memory postings are resident; direct I/O reads them into small reusable buffers.
        Assert.True(memoryBytes >= postingBytes / 2, $"in-memory {memoryBytes} vs posting file {postingBytes}");
        Assert.True(directBytes < memoryBytes, $"direct {directBytes} vs in-memory {memoryBytes}");

        var exact = SingleLine(CliRunner.Run("search", "--exact", "--dataset", fixture, "--json"));
        Assert.Equal(JsonValueKind.Number, exact.GetProperty("index_resident_bytes").ValueKind);
    }
}
