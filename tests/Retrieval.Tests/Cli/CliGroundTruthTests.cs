using System.Text.Json;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Cli;

public class CliGroundTruthTests
{
    private static string TinyDense => TestData.Fixture("tiny-dense");

    [Fact]
    public void GroundTruthOfTheFixtureMatchesTheShippedIdsAndDistances()
    {
        var dir = TestData.TempDirectory();
        var ids = Path.Combine(dir, "gt.ivecs");
        var scores = Path.Combine(dir, "gt.fvecs");

        var outcome = CliRunner.Run("gt", "--dataset", TinyDense, "--k", "100", "--out", ids, "--scores-out", scores, "--json");

        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        var line = JsonDocument.Parse(outcome.Stdout).RootElement;
        Assert.Equal(50, line.GetProperty("queries").GetInt32());
        Assert.Equal("l2", line.GetProperty("metric").GetString());
        var expected = IntMatrixFile.Read(Path.Combine(TinyDense, "groundtruth.ivecs"));
        var written = IntMatrixFile.Read(ids);
        Assert.Equal(expected.Rows, written.Rows);
        Assert.Equal(expected.Columns, written.Columns);
        // The fixture has no ties at any rank up to 100 (see its manifest), so ids must be identical.
        Assert.Equal(expected.Data, written.Data);
        // uint8 squared distances are integers below 2^24: exact in float32.
        Assert.Equal(FloatMatrixFile.Read(Path.Combine(TinyDense, "groundtruth.dist.fvecs")).Data, FloatMatrixFile.Read(scores).Data);
    }

    [Fact]
    public void GroundTruthFromFilesWritesRequestedKAndQueryCount()
    {
        var dir = TestData.TempDirectory();
        var ids = Path.Combine(dir, "gt.ibin");

        var outcome = CliRunner.Run("gt", "--base", Path.Combine(TinyDense, "base.u8bin"),
            "--queries", Path.Combine(TinyDense, "queries.u8bin"), "--k", "10", "--max-queries", "20", "--out", ids, "--quiet");

        Assert.True(outcome.ExitCode == ExitCodes.Success, outcome.ToString());
        var written = IntMatrixFile.Read(ids);
        var expected = IntMatrixFile.Read(Path.Combine(TinyDense, "groundtruth.ivecs"));
        Assert.Equal(20, written.Rows);
        Assert.Equal(10, written.Columns);
        for (int q = 0; q < 20; q++) Assert.Equal(expected.Row(q)[..10].ToArray(), written.Row(q).ToArray());
    }

    [Fact]
    public void SparseGroundTruthAndSearchAgreeWithBruteForce()
    {
        var dir = TestData.TempDirectory();
        var rng = new Random(7);
        var documents = RandomSparse(rng, rows: 300, vocabulary: 64, perRow: 6);
        var queries = RandomSparse(rng, rows: 12, vocabulary: 64, perRow: 4);
        var basePath = Path.Combine(dir, "base.csr");
        var queriesPath = Path.Combine(dir, "queries.csr");
        var idsPath = Path.Combine(dir, "gt.ivecs");
        SparseCsrFile.Write(basePath, documents);
        SparseCsrFile.Write(queriesPath, queries);

        var gt = CliRunner.Run("gt", "--base", basePath, "--queries", queriesPath, "--k", "5", "--out", idsPath, "--quiet");
        Assert.True(gt.ExitCode == ExitCodes.Success, gt.ToString());
        var written = IntMatrixFile.Read(idsPath);
        for (int q = 0; q < queries.RowCount; q++)
        {
            var best = BruteForceBest(documents, queries, q);
            Assert.Equal(best, written.Row(q)[0]);
        }

        var search = CliRunner.Run("search", "--exact", "--base", basePath, "--queries", queriesPath, "--gt", idsPath, "--k", "5", "--json");
        Assert.True(search.ExitCode == ExitCodes.Success, search.ToString());
        var line = JsonDocument.Parse(search.Stdout).RootElement;
        Assert.Equal(1.0, line.GetProperty("recall_at_k").GetDouble());
    }

    [Fact]
    public void MissingQueriesFileFailsWithThePath()
    {
        var dir = TestData.TempDirectory();
        var missing = Path.Combine(dir, "queries.u8bin");

        var outcome = CliRunner.Run("gt", "--base", Path.Combine(TinyDense, "base.u8bin"), "--queries", missing,
            "--out", Path.Combine(dir, "gt.ivecs"));

        Assert.Equal(ExitCodes.Failed, outcome.ExitCode);
        Assert.Contains(missing, outcome.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "gt.ivecs")));
    }

    [Fact]
    public void MissingOutIsAUsageError()
    {
        var outcome = CliRunner.Run("gt", "--dataset", TinyDense);

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains("--out", outcome.Stderr);
    }

    private static SparseMatrix RandomSparse(Random rng, int rows, int vocabulary, int perRow)
    {
        var offsets = new long[rows + 1];
        var indices = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            var terms = new SortedSet<int>();
            while (terms.Count < perRow) terms.Add(rng.Next(vocabulary));
            foreach (var t in terms)
            {
                indices.Add(t);
                // Distinct weights on a fine grid keep exact ties (and so ambiguous ranks) out of the test.
                values.Add(0.5f + rng.Next(1_000_000) / 1_000_000f);
            }
            offsets[r + 1] = indices.Count;
        }
        return new SparseMatrix(rows, vocabulary, offsets, indices.ToArray(), values.ToArray());
    }

    private static int BruteForceBest(SparseMatrix documents, SparseMatrix queries, int q)
    {
        var query = queries.Row(q);
        var weights = new Dictionary<int, double>();
        for (int i = 0; i < query.Indices.Length; i++) weights[query.Indices[i]] = query.Values[i];
        int best = -1;
        double bestScore = double.NegativeInfinity;
        for (int d = 0; d < documents.RowCount; d++)
        {
            var doc = documents.Row(d);
            double score = 0;
            bool any = false;
            for (int i = 0; i < doc.Indices.Length; i++)
            {
                if (weights.TryGetValue(doc.Indices[i], out var w)) { score += w * doc.Values[i]; any = true; }
            }
            if (any && score > bestScore) { bestScore = score; best = d; }
        }
        return best;
    }
}
