using System.Text.Json;
using Retrieval.Bench.Inputs;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Formats;
using Retrieval.Index.Search;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Cli;

/// <summary>`retrieval gt --verify` and the comparison behind it: identical ids, ties, near ties and mismatches.</summary>
public class CliGroundTruthVerifyTests
{
    private static string TinyDense => TestData.Fixture("tiny-dense");

    [Fact]
    public void VerifyAgainstTheFixturesOwnGroundTruthReproduces()
    {
        var dir = TestData.TempDirectory();
        var outcome = CliRunner.Run("gt", "--dataset", TinyDense, "--k", "100", "--out", Path.Combine(dir, "gt.ivecs"),
            "--verify", "dataset", "--json", "--quiet");

        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        var lines = outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var verify = JsonDocument.Parse(lines[^1]).RootElement;
        Assert.Equal(5000, verify.GetProperty("positions").GetInt64());
        Assert.Equal(5000, verify.GetProperty("identical").GetInt64());
        Assert.Equal(0, verify.GetProperty("mismatches").GetInt64());
        Assert.True(verify.GetProperty("reproduces").GetBoolean());
    }

    [Fact]
    public void VerifyAgainstAWrongFileFailsWithExitCode1AndNamesTheFirstMismatch()
    {
        var dir = TestData.TempDirectory();
        // The fixture's ground truth with two rows exchanged: every position of those rows is a real mismatch.
        var truth = IntMatrixFile.Read(Path.Combine(TinyDense, "groundtruth.ivecs"));
        var swapped = (int[])truth.Data.Clone();
        truth.Row(3).CopyTo(swapped.AsSpan(4 * truth.Columns, truth.Columns));
        truth.Row(4).CopyTo(swapped.AsSpan(3 * truth.Columns, truth.Columns));
        var wrong = Path.Combine(dir, "wrong.ivecs");
        IntMatrixFile.Write(wrong, new IntMatrix(truth.Rows, truth.Columns, swapped));

        var outcome = CliRunner.Run("gt", "--dataset", TinyDense, "--k", "10", "--out", Path.Combine(dir, "gt.ivecs"),
            "--verify", wrong, "--json", "--quiet");

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        var verify = JsonDocument.Parse(outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.False(verify.GetProperty("reproduces").GetBoolean());
        Assert.Equal(20, verify.GetProperty("mismatches").GetInt64());
        Assert.Equal("query 3 rank 0", verify.GetProperty("first_mismatch").GetString());
    }

    [Fact]
    public void ComparisonClassifiesExactTiesNearTiesAndMismatches()
    {
        // One query, four base ids with scores 1, 1, 2.00001 (near 2) and 2, 5: computed order 0,1,3 vs reference 1,0,2.
        float[] scores = [1f, 1f, 2.00001f, 2f, 5f];
        var computed = new SearchResults(1, 3);
        computed.IdsOf(0)[0] = 0; computed.IdsOf(0)[1] = 1; computed.IdsOf(0)[2] = 3;
        var reference = new GroundTruth(1, 3, [1, 0, 2]);
        var result = GroundTruthComparison.Compare(computed, reference, (q, id) => scores[id]);
        Assert.Equal(0, result.Identical);
        Assert.Equal(2, result.ExactTies);
        Assert.Equal(1, result.NearTies);
        Assert.Equal(0, result.Mismatches);
        Assert.True(result.Reproduces);

        var farOff = new GroundTruth(1, 3, [0, 1, 4]);
        var bad = GroundTruthComparison.Compare(computed, farOff, (q, id) => scores[id]);
        Assert.Equal(2, bad.Identical);
        Assert.Equal(1, bad.Mismatches);
        Assert.Equal((0, 2), (bad.FirstMismatchQuery, bad.FirstMismatchRank));
    }
}
