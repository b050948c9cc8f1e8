using System.Text.Json.Nodes;
using Retrieval.Bench.Evaluation;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

/// <summary>The kNN graph (CIKM 2024): build invariants, exactness of refinement, format and option validation.</summary>
public class SeismicKnnGraphTests
{
    private static readonly SparseMatrix Docs = SeismicTestData.Collection(31, rows: 500, vocabulary: 300, maxNnz: 25);
    private static readonly SparseMatrix Queries = SeismicTestData.Collection(32, rows: 40, vocabulary: 300, maxNnz: 8);
    private static readonly SeismicBuildOptions GraphOptions = SeismicBuildOptions.Default with
    {
        Pruning = PostingPruning.FixedLambda,
        Lambda = 60,
        KnnNeighbours = 6,
    };

    private static SeismicIndex BuildWithGraph(SeismicBuildOptions? options = null) => SeismicIndex.Build(Docs, options ?? GraphOptions);

    [Fact]
    public void GraphHasKappaValidNeighboursPerRowAndNoSelfLoops()
    {
        var index = BuildWithGraph();
        var graph = index.Graph!;
        Assert.Equal(6, graph.Kappa);
        Assert.Equal(index.Count, graph.RowCount);
        Assert.Equal((long)index.Count * 6, graph.Neighbours.LongLength);
        Assert.Null(KnnGraph.FindProblem(graph.Kappa, graph.RowCount, graph.Neighbours));
        int full = 0;
        for (int row = 0; row < graph.RowCount; row++)
        {
            var slots = graph.NeighboursOf(row);
            bool padded = false;
            var seen = new HashSet<int>();
            foreach (int n in slots)
            {
                if (n == KnnGraph.NoNeighbour)
                {
                    padded = true;
                    continue;
                }
                Assert.False(padded, $"row {row}: a neighbour after padding");
                Assert.InRange(n, 0, graph.RowCount - 1);
                Assert.NotEqual(row, n);
                Assert.True(seen.Add(n), $"row {row}: neighbour {n} twice");
            }
            if (!padded) full++;
        }
        // Every document shares terms with dozens of others, so almost every row finds kappa neighbours.
        Assert.True(full >= 0.95 * graph.RowCount, $"{full} of {graph.RowCount} rows have kappa neighbours");
        Assert.True(index.BuildStats!.KnnGraphSeconds > 0);
        Assert.True(index.BuildStats.BuildSeconds >= index.BuildStats.KnnGraphSeconds);
    }

    [Fact]
    public void NoGraphWithoutKnnNeighbours()
    {
        var index = SeismicIndex.Build(Docs, GraphOptions with { KnnNeighbours = 0 });
        Assert.Null(index.Graph);
        Assert.Equal(0, index.BuildStats!.KnnGraphSeconds);
    }

    /// <summary>A lossless build whose graph searches are exhaustive yields the exact kNN graph (tie-aware recall 1).</summary>
    [Fact]
    public void ExhaustiveGraphBuildGivesExactNeighbours()
    {
        var index = SeismicIndex.Build(Docs, SeismicBuildOptions.Lossless with
        {
            KnnNeighbours = 5,
            KnnBuildQueryCut = int.MaxValue,
            KnnBuildHeapFactor = 0f,
        });
        Assert.Equal(1.0, KnnGraphRecall.Measure(index, sampleRows: 60, seed: 3, threads: 1), 6);
        // Neighbours are best first: exact scores never increase along a row.
        var dense = new float[index.VocabularySize];
        var terms = new int[64];
        var weights = new float[64];
        for (int row = 0; row < 50; row++)
        {
            int n = index.Forward.CopyRow(row, terms, weights);
            for (int i = 0; i < n; i++) dense[terms[i]] = weights[i];
            float previous = float.PositiveInfinity;
            foreach (int neighbour in index.Graph!.NeighboursOf(row))
            {
                if (neighbour < 0) break;
                float score = index.Forward.Dot(neighbour, dense);
                Assert.True(score <= previous * (1 + 1e-5f), $"row {row}: neighbour scores rise ({previous} then {score})");
                previous = score;
            }
            for (int i = 0; i < n; i++) dense[terms[i]] = 0;
        }
        // A cheap build is measurably worse than exact, so the measure can fail.
        var cheap = SeismicIndex.Build(Docs, GraphOptions with { KnnBuildQueryCut = 1, KnnBuildHeapFactor = 3f });
        Assert.InRange(KnnGraphRecall.Measure(cheap, sampleRows: 60, seed: 3, threads: 1), 0.05, 0.98);
    }

    /// <summary>
    /// Refinement only adds candidates to the heap, so each rank's score can only rise (recall never drops), and
    /// every returned score is the exact inner product of the stored (float32) weights.
    /// </summary>
    [Fact]
    public void RefinementNeverLowersScoresAndScoresAreExact()
    {
        var index = BuildWithGraph(GraphOptions with { Values = ForwardValueStorage.Float32 });
        var truth = new ExactSparseIndex(Docs).Search(Queries, 10, threads: 1);
        var p = new SeismicSearchParameters { QueryCut = 2, HeapFactor = 1.5f, KnnRefine = false };
        var plain = index.Search(Queries, 10, p, 1, out var plainStats);
        var refined = index.Search(Queries, 10, p with { KnnRefine = true }, 1, out var refinedStats);
        Assert.Equal(0, plainStats.KnnDocumentsScored);
        Assert.True(refinedStats.KnnDocumentsScored > 0);
        Assert.Equal(plainStats.DocumentsScored + refinedStats.KnnDocumentsScored, refinedStats.DocumentsScored);
        for (int q = 0; q < Queries.RowCount; q++)
        {
            var ids = refined.IdsOf(q);
            var scores = refined.ScoresOf(q);
            var plainScores = plain.ScoresOf(q);
            for (int i = 0; i < ids.Length; i++)
            {
                if (!float.IsNaN(plainScores[i])) Assert.True(scores[i] >= plainScores[i], $"query {q} rank {i}: {scores[i]} < {plainScores[i]}");
                if (ids[i] < 0) continue;
                float exact = SparseDot.Dot(Queries.Row(q), Docs.Row(ids[i]));
                Assert.Equal(exact, scores[i], 1e-4f * Math.Max(1f, exact));
            }
        }
        double plainRecall = NeighborRecall.RecallAtK(plain, truth.Ids, 10, 10).Mean;
        double refinedRecall = NeighborRecall.RecallAtK(refined, truth.Ids, 10, 10).Mean;
        Assert.True(refinedRecall > plainRecall, $"refined {refinedRecall} vs plain {plainRecall} at an aggressive setting");

        // KnnExpand limits the neighbours taken per heap document; 1 scores fewer than all 6.
        index.Search(Queries, 10, p with { KnnRefine = true, KnnExpand = 1 }, 1, out var narrow);
        Assert.InRange(narrow.KnnDocumentsScored, 1, refinedStats.KnnDocumentsScored - 1);
    }

    /// <summary>
    /// Real learned-sparse vectors (the paper's setting): 3,000 SPLADE-v3 MS MARCO query vectors as documents, 100
    /// DistilSPLADE-max vectors as queries, kappa 10 (default graph build). Measured recall@10 at query_cut 5 /
    /// heap_factor 1.1: 0.861 without refinement (60 documents scored per query), 0.919 with it (51 more).
    /// </summary>
    [SkippableFact]
    public void RefinementRaisesRecallOnRealSpladeVectors()
    {
        var (docVectors, queryVectors) = SeismicTestData.SpladeSlice(3000, 100);
        var truth = new ExactSparseIndex(docVectors).Search(queryVectors, 10, threads: 1);
        var index = SeismicIndex.Build(docVectors, SeismicBuildOptions.Default with { KnnNeighbours = 10 });
        var p = new SeismicSearchParameters { QueryCut = 5, HeapFactor = 1.1f };
        var plain = index.Search(queryVectors, 10, p with { KnnRefine = false }, 0, out var plainStats);
        var refined = index.Search(queryVectors, 10, p, 0, out var refinedStats);
        double plainRecall = NeighborRecall.RecallAtK(plain, truth.Ids, 10, 10).Mean;
        double refinedRecall = NeighborRecall.RecallAtK(refined, truth.Ids, 10, 10).Mean;
        Assert.True(refinedRecall >= plainRecall + 0.03, $"recall@10 {refinedRecall} with refinement vs {plainRecall} without");
        Assert.True(refinedStats.DocumentsScored > plainStats.DocumentsScored);
        for (int q = 0; q < queryVectors.RowCount; q++)
            for (int i = 0; i < 10; i++)
                if (!float.IsNaN(plain.ScoresOf(q)[i])) Assert.True(refined.ScoresOf(q)[i] >= plain.ScoresOf(q)[i]);
    }

    [Fact]
    public void SteadyStateRefinedSearchDoesNotAllocate()
    {
        var index = BuildWithGraph();
        var ids = new int[10];
        var scores = new float[10];
        var p = new SeismicSearchParameters { QueryCut = 3, HeapFactor = 1f };
        var stats = new SeismicQueryStats();
        for (int q = 0; q < Queries.RowCount; q++) index.SearchOne(Queries.Row(q), 10, p, ids, scores, ref stats);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int q = 0; q < Queries.RowCount; q++) index.SearchOne(Queries.Row(q), 10, p, ids, scores, ref stats);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(stats.KnnDocumentsScored > 0);
    }

    [Fact]
    public void GraphRoundTripsThroughTheIndexDirectory()
    {
        var built = BuildWithGraph();
        var dir = Path.Combine(TestData.TempDirectory(), "idx");
        built.Save(dir);
        Assert.True(File.Exists(Path.Combine(dir, SeismicIndexFormat.KnnGraphFile)));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, SeismicIndexFormat.ManifestFile)))!;
        Assert.Equal(6, manifest["parameters"]!["knn_neighbours"]!.GetValue<int>());
        var opened = SeismicIndex.Open(dir);
        Assert.Equal(built.Options, opened.Options);
        Assert.Equal(built.Graph!.Neighbours, opened.Graph!.Neighbours);
        var p = new SeismicSearchParameters { QueryCut = 3, HeapFactor = 1f };
        var a = built.Search(Queries, 10, p, threads: 1);
        var b = opened.Search(Queries, 10, p, threads: 1);
        Assert.Equal(a.Ids, b.Ids);
        Assert.Equal(a.Scores, b.Scores);

        // Saving an index without a graph over the same directory removes the stale knn.bin.
        SeismicIndex.Build(Docs, GraphOptions with { KnnNeighbours = 0 }).Save(dir);
        Assert.False(File.Exists(Path.Combine(dir, SeismicIndexFormat.KnnGraphFile)));
        Assert.Null(SeismicIndex.Open(dir).Graph);
    }

    /// <summary>Indexes written before the graph existed (no knn_neighbours in the manifest, no knn.bin) still open.</summary>
    [Fact]
    public void IndexWithoutGraphFieldsOpens()
    {
        var index = SeismicIndex.Open(TestData.Fixture("seismic", "v3"));
        Assert.Null(index.Graph);
        Assert.Equal(0, index.Options.KnnNeighbours);
        var dir = Path.Combine(TestData.TempDirectory(), "idx");
        SeismicIndex.Build(Docs, GraphOptions with { KnnNeighbours = 0 }).Save(dir);
        var manifestPath = Path.Combine(dir, SeismicIndexFormat.ManifestFile);
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        var parameters = manifest["parameters"]!.AsObject();
        parameters.Remove("knn_neighbours");
        parameters.Remove("knn_build_query_cut");
        parameters.Remove("knn_build_heap_factor");
        File.WriteAllText(manifestPath, manifest.ToJsonString());
        var opened = SeismicIndex.Open(dir);
        Assert.Null(opened.Graph);
        Assert.Equal(SeismicBuildOptions.DefaultKnnBuildQueryCut, opened.Options.KnnBuildQueryCut);
    }

    private static string SavedGraphIndex()
    {
        var dir = Path.Combine(TestData.TempDirectory(), "idx");
        BuildWithGraph().Save(dir);
        return dir;
    }

    [Fact]
    public void TruncatedOrFlippedGraphFileIsRejectedNamingIt()
    {
        var dir = SavedGraphIndex();
        var path = Path.Combine(dir, SeismicIndexFormat.KnnGraphFile);
        var original = File.ReadAllBytes(path);
        foreach (int keep in new[] { 0, 10, original.Length / 2, original.Length - 1 })
        {
            File.WriteAllBytes(path, original[..keep]);
            var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
            Assert.Equal(ErrorKind.Corrupt, e.Kind);
            Assert.Contains(SeismicIndexFormat.KnnGraphFile, e.Message);
        }
        foreach (int position in new[] { 0, 9, 20, original.Length / 2, original.Length - 10, original.Length - 2 })
        {
            var bytes = (byte[])original.Clone();
            bytes[position] ^= 0x10;
            File.WriteAllBytes(path, bytes);
            var e = Assert.ThrowsAny<RetrievalException>(() => SeismicIndex.Open(dir));
            Assert.Contains(SeismicIndexFormat.KnnGraphFile, e.Message);
            Assert.True(e.Kind is ErrorKind.Corrupt or ErrorKind.Incompatible, $"byte {position}: {e.Kind} {e.Message}");
        }
        File.Delete(path);
        var missing = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains(SeismicIndexFormat.KnnGraphFile, missing.Message);
    }

    /// <summary>A graph file with valid checksums but a broken table is caught by the structural checks on open.</summary>
    [Theory]
    [InlineData("self", "self loop")]
    [InlineData("range", "outside")]
    [InlineData("gap", "after -1 padding")]
    [InlineData("repeat", "repeats")]
    [InlineData("shape", "graph shape")]
    public void WellChecksummedButMalformedGraphIsRejected(string damage, string expected)
    {
        var dir = SavedGraphIndex();
        var index = SeismicIndex.Open(dir);
        int kappa = index.Graph!.Kappa;
        var neighbours = (int[])index.Graph.Neighbours.Clone();
        int row = 7;
        var shape = new[] { kappa, index.Count };
        switch (damage)
        {
            case "self": neighbours[row * kappa + 2] = row; break;
            case "range": neighbours[row * kappa] = index.Count; break;
            case "gap": neighbours[row * kappa + 1] = KnnGraph.NoNeighbour; break;
            case "repeat": neighbours[row * kappa + 3] = neighbours[row * kappa]; break;
            case "shape": shape[0] = kappa + 1; break;
        }
        RewriteGraph(dir, shape, neighbours);
        var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains(SeismicIndexFormat.KnnGraphFile, e.Message);
        Assert.Contains(expected, e.Message);
        if (damage != "shape") Assert.Contains($"row {row}", e.Message);
    }

    [Fact]
    public void ManifestAndGraphFileMustAgree()
    {
        var dir = SavedGraphIndex();
        var manifestPath = Path.Combine(dir, SeismicIndexFormat.ManifestFile);
        var text = File.ReadAllText(manifestPath);
        var manifest = JsonNode.Parse(text)!;
        manifest["parameters"]!["knn_neighbours"] = 0;
        File.WriteAllText(manifestPath, manifest.ToJsonString());
        var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains("knn_neighbours is 0", e.Message);

        manifest["parameters"]!["knn_neighbours"] = 4;
        File.WriteAllText(manifestPath, manifest.ToJsonString());
        e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains("graph shape", e.Message);

        manifest["parameters"]!["knn_neighbours"] = 100_000;
        File.WriteAllText(manifestPath, manifest.ToJsonString());
        e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains("knn_neighbours 100000", e.Message);
    }

    private static void RewriteGraph(string dir, int[] shape, int[] neighbours) =>
        SeismicTestData.RewriteIndexFile(dir, SeismicIndexFormat.KnnGraphFile, "SSMCKNN1", 2, w =>
        {
            w.Section(shape);
            w.Section(neighbours);
        });

    [Theory]
    [InlineData(-1, "KnnNeighbours")]
    [InlineData(SeismicBuildOptions.MaxKnnNeighbours + 1, "KnnNeighbours")]
    public void KnnNeighboursOutOfRangeIsRejected(int kappa, string expected)
    {
        var e = Assert.Throws<RetrievalException>(() => (SeismicBuildOptions.Default with { KnnNeighbours = kappa }).Validate());
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains(expected, e.Message);
        Assert.Contains(kappa.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public void GraphBuildAndExpandSettingsAreValidated()
    {
        (SeismicBuildOptions.Default with { KnnNeighbours = SeismicBuildOptions.MaxKnnNeighbours }).Validate();
        var e = Assert.Throws<RetrievalException>(() => (SeismicBuildOptions.Default with { KnnBuildQueryCut = 0 }).Validate());
        Assert.Contains("KnnBuildQueryCut", e.Message);
        e = Assert.Throws<RetrievalException>(() => (SeismicBuildOptions.Default with { KnnBuildHeapFactor = float.NaN }).Validate());
        Assert.Contains("KnnBuildHeapFactor", e.Message);
        e = Assert.Throws<RetrievalException>(() => new SeismicSearchParameters { KnnExpand = -1 }.Validate());
        Assert.Contains("KnnExpand", e.Message);
        Assert.Throws<RetrievalException>(() => SeismicIndex.Build(Docs, SeismicBuildOptions.Default with { KnnNeighbours = -2 }));
    }

    /// <summary>Refinement is a no-op on an index without a graph (KnnRefine defaults to true).</summary>
    [Fact]
    public void RefineWithoutGraphChangesNothing()
    {
        var index = SeismicIndex.Build(Docs, GraphOptions with { KnnNeighbours = 0 });
        var p = new SeismicSearchParameters { QueryCut = 2, HeapFactor = 1.5f };
        var a = index.Search(Queries, 10, p, 1, out var sa);
        var b = index.Search(Queries, 10, p with { KnnRefine = false }, 1, out var sb);
        Assert.Equal(a.Ids, b.Ids);
        Assert.Equal(sa.DocumentsScored, sb.DocumentsScored);
        Assert.Equal(0, sa.KnnDocumentsScored);
    }
}
