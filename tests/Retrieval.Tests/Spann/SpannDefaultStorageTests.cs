using System.Runtime.InteropServices;
using System.Text.Json;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Formats;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Cli;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

public class SpannDefaultStorageTests
{
    [Theory]
    [InlineData(ElementType.Float16, SpannStorage.Float16)]
    [InlineData(ElementType.UInt8, SpannStorage.Float16)]
    [InlineData(ElementType.Int8, SpannStorage.Int8)]
    [InlineData(ElementType.Float32, SpannStorage.Float32)]
    public void DefaultStorageIsTheSmallestThatHoldsTheInputExactly(ElementType input, SpannStorage expected)
    {
        Assert.Equal(expected, SpannStorageExtensions.DefaultFor(input));
        Assert.False(expected.IsLossyFor(input));
        Assert.Equal(expected, new SpannBuildOptions().StorageFor(input));
        // An explicit storage wins over the rule.
        Assert.Equal(SpannStorage.Float32, new SpannBuildOptions { Storage = SpannStorage.Float32 }.StorageFor(input));
    }

    [Fact]
    public void BuildSpannWithoutStorageWritesF16PostingsFromFloat16Input()
    {
        var dir = TestData.TempDirectory();
        var input = Path.Combine(dir, "base-f16.npy");
        var floats = SpannTestData.RandomFloat(7, 600, 16);
        var halves = new Half[floats.Count * floats.Dimension];
        for (int r = 0; r < floats.Count; r++)
        {
            var row = floats.Float32Row(r);
            for (int c = 0; c < row.Length; c++) halves[r * floats.Dimension + c] = (Half)row[c];
        }
        DenseVectorFile.Write(input, new DenseVectors(ElementType.Float16, floats.Count, floats.Dimension, MemoryMarshal.AsBytes(halves.AsSpan()).ToArray()));

        var output = Path.Combine(dir, "spann-f16");
        var outcome = CliRunner.Run("build", "spann", "--input", input, "--out", output, "--metric", "l2", "--head-ratio", "0.1", "--json");
        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, SpannFormat.ManifestFile)));
        Assert.Equal("f16", manifest.RootElement.GetProperty("storage").GetString());
    }
}
