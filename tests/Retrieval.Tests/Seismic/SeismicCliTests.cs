using System.Text.Json;
using Retrieval.Tests.Cli;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

public class SeismicCliTests
{
    /// <summary>build seismic from JSONL, then search --index with the knobs, a sweep, and exact baseline recall.</summary>
    [SkippableFact]
    public void BuildJsonlThenSearchIndex()
    {
        var toy = TestData.SharedDataset("seismic-toy");
        var dir = Path.Combine(TestData.TempDirectory(), "toy");
        var build = CliRunner.Run("--json", "build", "seismic", "--input", Path.Combine(toy, "documents.jsonl"), "--out", dir, "--values", "f32");
        Assert.True(build.ExitCode == 0, build.ToString());
        using (var line = JsonDocument.Parse(build.Stdout.Trim()))
        {
            Assert.Equal("seismic", line.RootElement.GetProperty("index").GetString());
            Assert.Equal(20, line.RootElement.GetProperty("documents").GetInt32());
            Assert.Equal(0, line.RootElement.GetProperty("unknown_tokens").GetInt64());
        }
        Assert.True(File.Exists(Path.Combine(dir, "manifest.json")));

        var search = CliRunner.Run("--json", "search", "--index", dir, "--dataset", toy, "--k", "5", "--query-cut", "1000", "--heap-factor", "0");
        Assert.True(search.ExitCode == 0, search.ToString());
        using (var line = JsonDocument.Parse(search.Stdout.Trim()))
        {
            Assert.Equal("seismic", line.RootElement.GetProperty("index").GetString());
            Assert.Equal(1000, line.RootElement.GetProperty("query_cut").GetInt32());
            Assert.Equal(5, line.RootElement.GetProperty("queries").GetInt32());
        }

        var grown = CliRunner.Run("--json", "search", "--index", dir, "--dataset", toy, "--k", "5", "--query-cut", "8", "--heap-factor", "0.6",
            "--heap-factor-growth", "0.1");
        Assert.True(grown.ExitCode == 0, grown.ToString());
        using (var line = JsonDocument.Parse(grown.Stdout.Trim()))
            Assert.Equal(0.1, line.RootElement.GetProperty("heap_factor_growth").GetDouble(), 1e-6);
        var negative = CliRunner.Run("search", "--index", dir, "--dataset", toy, "--heap-factor-growth", "-1");
        Assert.NotEqual(0, negative.ExitCode);
        Assert.Contains("HeapFactorGrowth", negative.Stderr);

        var sweep = CliRunner.Run("--json", "search", "--index", dir, "--dataset", toy, "--k", "5", "--sweep");
        Assert.True(sweep.ExitCode == 0, sweep.ToString());
        Assert.Equal(20, sweep.Stdout.Trim().Split('\n').Length);
    }

    /// <summary>BigANN sparse CSR input: build from .csr, search with a .csr query file and exact-baseline recall.</summary>
    [Fact]
    public void BuildCsrThenSearchWithExactBaseline()
    {
        var work = TestData.TempDirectory();
        var docs = Path.Combine(work, "base.csr");
        var queries = Path.Combine(work, "queries.csr");
        Retrieval.Index.Formats.SparseCsrFile.Write(docs, SeismicTestData.Collection(51, rows: 300, vocabulary: 200, maxNnz: 20));
        Retrieval.Index.Formats.SparseCsrFile.Write(queries, SeismicTestData.Collection(52, rows: 10, vocabulary: 200, maxNnz: 6));
        var dir = Path.Combine(work, "idx");
        var build = CliRunner.Run("--json", "build", "seismic", "--input", docs, "--out", dir, "--no-pruning", "--values", "f32", "--summary-energy", "1",
            "--row-order", "input");
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Contains("\"input_format\":\"csr\"", build.Stdout);
        Assert.Contains("\"row_order\": \"input\"", File.ReadAllText(Path.Combine(dir, "manifest.json")));
        var search = CliRunner.Run("--json", "search", "--index", dir, "--base", docs, "--queries", queries, "--k", "5",
            "--query-cut", "1000", "--heap-factor", "0", "--exact-baseline");
        Assert.True(search.ExitCode == 0, search.ToString());
        var lines = search.Stdout.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        // No ground truth file: the two lines are the Seismic run and the exact run; Seismic searched exhaustively.
        Assert.Contains("\"index\":\"seismic\"", lines[0]);
        Assert.Contains("\"index\":\"exact\"", lines[1]);
    }

    /// <summary>build --knn writes the graph (knn.bin, manifest kappa); search refines by default and --no-knn-refine turns it off.</summary>
    [Fact]
    public void BuildWithKnnGraphThenSearchWithAndWithoutRefinement()
    {
        var work = TestData.TempDirectory();
        var docs = Path.Combine(work, "base.csr");
        var queries = Path.Combine(work, "queries.csr");
        Retrieval.Index.Formats.SparseCsrFile.Write(docs, SeismicTestData.Collection(53, rows: 300, vocabulary: 200, maxNnz: 20));
        Retrieval.Index.Formats.SparseCsrFile.Write(queries, SeismicTestData.Collection(54, rows: 10, vocabulary: 200, maxNnz: 6));
        var dir = Path.Combine(work, "idx");
        var build = CliRunner.Run("--json", "build", "seismic", "--input", docs, "--out", dir, "--lambda", "40", "--knn", "4");
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Contains("\"knn_neighbours\":4", build.Stdout);
        Assert.True(File.Exists(Path.Combine(dir, "knn.bin")));
        Assert.Contains("\"knn_neighbours\": 4", File.ReadAllText(Path.Combine(dir, "manifest.json")));
        var refined = CliRunner.Run("--json", "search", "--index", dir, "--base", docs, "--queries", queries, "--k", "5", "--query-cut", "2");
        Assert.True(refined.ExitCode == 0, refined.ToString());
        Assert.Contains("\"knn_refine\":true", refined.Stdout);
        var plain = CliRunner.Run("--json", "search", "--index", dir, "--base", docs, "--queries", queries, "--k", "5", "--query-cut", "2", "--no-knn-refine");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("\"knn_refine\":false", plain.Stdout);
        var two = CliRunner.Run("--json", "search", "--index", dir, "--base", docs, "--queries", queries, "--k", "5", "--query-cut", "2", "--knn-expand", "2");
        Assert.True(two.ExitCode == 0, two.ToString());
        Assert.Contains("\"knn_expand\":2", two.Stdout);
        var negative = CliRunner.Run("search", "--index", dir, "--base", docs, "--queries", queries, "--knn-expand", "-3");
        Assert.NotEqual(0, negative.ExitCode);
        Assert.Contains("KnnExpand", negative.ToString());

        var bad = CliRunner.Run("build", "seismic", "--input", docs, "--out", Path.Combine(work, "bad"), "--knn", "-1");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("KnnNeighbours", bad.ToString());
    }

    [Fact]
    public void BuildTextThenSearchWithQueryText()
    {
        var work = TestData.TempDirectory();
        var docs = Path.Combine(work, "docs.tsv");
        File.WriteAllLines(docs, Enumerable.Range(0, 200).Select(i => $"d{i}\t{(i % 3 == 0 ? "river bank water" : i % 3 == 1 ? "money loan bank" : "piano music")} passage {i}"));
        var queries = Path.Combine(work, "queries.tsv");
        File.WriteAllLines(queries, ["q1\triver water", "q2\tpiano", "q3\tzzzunknownzzz"]);
        var dir = Path.Combine(work, "idx");
        var build = CliRunner.Run("build", "seismic", "--input", docs, "--out", dir, "--lambda", "50");
        Assert.True(build.ExitCode == 0, build.ToString());
        var search = CliRunner.Run("--json", "search", "--index", dir, "--query-text", queries, "--k", "3");
        Assert.True(search.ExitCode == 0, search.ToString());
        Assert.Contains("\"queries\":3", search.Stdout);
    }

    [Fact]
    public void BadBuildAndSearchArgumentsFailClearly()
    {
        var work = TestData.TempDirectory();
        var missing = CliRunner.Run("build", "seismic", "--input", Path.Combine(work, "nope.jsonl"), "--out", Path.Combine(work, "x"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("input file not found", missing.Stderr);

        var odd = Path.Combine(work, "docs.parquet");
        File.WriteAllText(odd, "x");
        var unknown = CliRunner.Run("build", "seismic", "--input", odd, "--out", Path.Combine(work, "x"));
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("--format csr|jsonl|text", unknown.Stderr);

        var both = CliRunner.Run("build", "seismic", "--input", odd, "--out", Path.Combine(work, "x"), "--lambda", "5", "--avg-postings", "3");
        Assert.Equal(2, both.ExitCode);

        var badOrder = CliRunner.Run("build", "seismic", "--input", odd, "--out", Path.Combine(work, "x"), "--format", "text", "--row-order", "random");
        Assert.Equal(2, badOrder.ExitCode);
        Assert.Contains("--row-order must be block-locality or input", badOrder.Stderr);

        var badAlpha = CliRunner.Run("build", "seismic", "--input", odd, "--out", Path.Combine(work, "x"), "--format", "text", "--summary-energy", "2");
        Assert.Equal(1, badAlpha.ExitCode);
        Assert.Contains("SummaryEnergy", badAlpha.Stderr);

        var corrupt = Path.Combine(work, "corrupt");
        Directory.CreateDirectory(corrupt);
        File.WriteAllText(Path.Combine(corrupt, "manifest.json"), "{\"format\": \"seismic\", \"format_version\": 1}");
        var queries = Path.Combine(work, "q.tsv");
        File.WriteAllLines(queries, ["q1\tword"]);
        var open = CliRunner.Run("search", "--index", corrupt, "--query-text", queries);
        Assert.Equal(1, open.ExitCode);
        Assert.Contains("manifest.json", open.Stderr);
    }

    /// <summary>The benchmark command end to end on the tiny set (seconds): exactness note and a sweep line per setting.</summary>
    [SkippableFact]
    public void BenchSeismicToyRuns()
    {
        TestData.SharedDataset("seismic-toy");
        var bench = CliRunner.Run("--json", "bench", "seismic", "--sets", "toy", "--no-lucene", "--query-cuts", "5,1000", "--heap-factors", "0,0.7");
        Assert.True(bench.ExitCode == 0, bench.ToString());
        var lines = bench.Stdout.Trim().Split('\n');
        Assert.Equal(6, lines.Length); // defaults + exact + 2 x 2 seismic settings
        Assert.Contains("\"defaults\":\"seismic\"", lines[0]);
        Assert.Contains("identical top-k for all queries", bench.Stderr);
        using var exhaustive = JsonDocument.Parse(lines.Single(l => l.Contains("qc=1000 hf=0\"")));
        Assert.Equal(1.0, exhaustive.RootElement.GetProperty("recall_at_k").GetDouble(), 6);
    }
}
