using Retrieval.Bench.Datasets;
using Retrieval.Bench.Datasets.Recipes;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

/// <summary>
/// The minilm-2m recipe on a small stand-in for minilm-passages (2,000 random unit vectors, 150 queries),
/// prepared as a 20,000-row sample with 100 queries: layout, norms, held-out queries, exact ground truth,
/// determinism.
/// </summary>
public class MiniLm2mRecipeTests
{
    private const int Dims = 384;
    private const int RealRows = 2000;
    private const int Rows = 20_000;
    private const int Queries = 100;

    private static readonly Lazy<string> SourceRoot = new(MakeSource);

    /// <summary>A root holding minilm-passages: float16 unit vectors, as the real set is laid out.</summary>
    private static string MakeSource()
    {
        var root = TestData.TempDirectory();
        var dir = Path.Combine(root, "minilm-passages");
        Directory.CreateDirectory(dir);
        var random = new Random(7);
        DenseVectors UnitRows(int count)
        {
            var data = new float[count * Dims];
            for (int r = 0; r < count; r++)
            {
                var row = data.AsSpan(r * Dims, Dims);
                double norm = 0;
                for (int j = 0; j < Dims; j++)
                {
                    row[j] = (float)(random.NextDouble() - 0.5);
                    norm += row[j] * row[j];
                }
                for (int j = 0; j < Dims; j++) row[j] = (float)(row[j] / Math.Sqrt(norm));
            }
            var halves = new byte[count * Dims * 2];
            var target = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(halves.AsSpan());
            for (int i = 0; i < data.Length; i++) target[i] = (Half)data[i];
            return new DenseVectors(ElementType.Float16, count, Dims, halves);
        }
        DenseVectorFile.Write(Path.Combine(dir, "base.npy"), UnitRows(RealRows));
        DenseVectorFile.Write(Path.Combine(dir, "queries.npy"), UnitRows(150));
        IntMatrixFile.Write(Path.Combine(dir, "groundtruth.ivecs"), new IntMatrix(150, 1));
        File.WriteAllText(Path.Combine(dir, "manifest.json"), $$"""
            {"name": "minilm-passages", "kind": "dense", "metric": "cosine", "dims": {{Dims}},
             "base": {"file": "base.npy", "format": "npy", "dtype": "float16", "count": {{RealRows}}},
             "queries": {"file": "queries.npy", "format": "npy", "dtype": "float16", "count": 150},
             "groundtruth": {"file": "groundtruth.ivecs", "format": "ivecs", "k": 1},
             "source": "test vectors", "licence": "test"}
            """);
        return root;
    }

    private static PrepareOptions Options(int threads = 0, ulong? seed = null) => new()
    {
        Locator = new DatasetLocator([new DatasetRoot(SourceRoot.Value, "test root")]),
        Rows = Rows,
        QueryCount = Queries,
        Threads = threads,
        Seed = seed,
    };

    private static string Prepare(PrepareOptions options)
    {
        var output = Path.Combine(TestData.TempDirectory(), "minilm-2m-rows" + Rows);
        return DatasetRecipes.Prepare("minilm-2m", output, options: options).Directory;
    }

    [Fact]
    public void ASampleOpensAsADenseSetWithUnitRowsHeldOutQueriesAndExactGroundTruth()
    {
        var dir = Prepare(Options());
        var m = DatasetLocator.Resolve(dir).Load();
        Assert.Equal(DatasetKind.Dense, m.Kind);
        Assert.Equal(Metric.Cosine, m.Metric);
        Assert.Equal(Dims, m.Dims);
        Assert.Equal(Rows, m.Base!.Count);
        Assert.Equal(Queries, m.Queries!.Count);
        Assert.Equal(100, m.GroundTruth!.K);
        Assert.True(m.Extra.ContainsKey("synthesis"));

        var baseVectors = DenseVectorFile.Read(m.Base.Path);
        var queries = DenseVectorFile.Read(m.Queries.Path);
        var gt = IntMatrixFile.Read(m.GroundTruth.Path);
        Assert.Equal(ElementType.Float16, baseVectors.ElementType);
        Assert.Equal((Rows, Dims), (baseVectors.Count, baseVectors.Dimension));
        Assert.Equal((Queries, Dims), (queries.Count, queries.Dimension));
        Assert.Equal((Queries, 100), (gt.Rows, gt.Columns));

        // Unit norm (to float16 rounding) and finite.
        var row = new float[Dims];
        var baseRows = new float[Rows][];
        for (int r = 0; r < Rows; r++)
        {
            baseVectors.CopyRowTo(r, row);
            double norm = 0;
            foreach (var v in row)
            {
                Assert.True(float.IsFinite(v));
                norm += v * v;
            }
            Assert.InRange(Math.Sqrt(norm), 0.995, 1.005);
            baseRows[r] = (float[])row.Clone();
        }

        // The queries are the source's first queries, and none of them is a base row.
        var sourceQueries = DenseVectorFile.Read(Path.Combine(SourceRoot.Value, "minilm-passages", "queries.npy"));
        Assert.Equal(sourceQueries.RawData[..queries.RawData.Length].ToArray(), queries.RawData.ToArray());
        var baseKeys = new HashSet<string>();
        for (int r = 0; r < Rows; r++) baseKeys.Add(Convert.ToBase64String(baseVectors.RawRow(r)));
        for (int q = 0; q < Queries; q++) Assert.DoesNotContain(Convert.ToBase64String(queries.RawRow(q)), baseKeys);

        // Sampled real rows are the source's rows bit for bit.
        var real = DenseVectorFile.Read(Path.Combine(SourceRoot.Value, "minilm-passages", "base.npy"));
        var globalRows = MiniLm2mRecipe.Sample(Rows, MiniLm2mRecipe.FullRows, MiniLm2mRecipe.DefaultSeed);
        int realSeen = 0;
        for (int r = 0; r < Rows; r++)
        {
            if (globalRows[r] >= RealRows) continue;
            Assert.Equal(real.RawRow(globalRows[r]).ToArray(), baseVectors.RawRow(r).ToArray());
            realSeen++;
        }
        Assert.True(realSeen > 0);

        // Ground truth = brute force (double precision cosine) on a few queries, allowing near-ties.
        foreach (int q in new[] { 0, 37, 99 })
        {
            queries.CopyRowTo(q, row);
            var scores = new double[Rows];
            for (int r = 0; r < Rows; r++)
            {
                double dot = 0, nb = 0, nq = 0;
                for (int j = 0; j < Dims; j++)
                {
                    dot += (double)row[j] * baseRows[r][j];
                    nb += (double)baseRows[r][j] * baseRows[r][j];
                    nq += (double)row[j] * row[j];
                }
                scores[r] = dot / Math.Sqrt(nb * nq);
            }
            var order = Enumerable.Range(0, Rows).OrderByDescending(r => scores[r]).ThenBy(r => r).ToArray();
            var ids = gt.Data.AsSpan(q * 100, 100).ToArray();
            Assert.Equal(100, ids.Distinct().Count());
            for (int i = 0; i < 100; i++)
                Assert.True(Math.Abs(scores[ids[i]] - scores[order[i]]) < 1e-5, $"query {q} rank {i}: {ids[i]} vs {order[i]}");
            Assert.Equal(10, order.Take(10).Intersect(ids.Take(10)).Count());
        }
    }

    [Fact]
    public void AFixedSeedGivesTheSameBytesWhateverTheThreads()
    {
        var a = Prepare(Options(threads: 0));
        var b = Prepare(Options(threads: 1));
        var c = Prepare(Options(seed: 99));
        foreach (var file in new[] { "base.npy", "queries.npy", "groundtruth.ivecs" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a, "base.npy")), File.ReadAllBytes(Path.Combine(c, "base.npy")));
    }

    [Fact]
    public void VariantOptionsBelongToThisRecipeAndAVariantIsNotMistakenForAnother()
    {
        var e = Assert.Throws<RetrievalException>(() =>
            DatasetRecipes.Prepare("tiny-dense", Path.Combine(TestData.TempDirectory(), "t"), options: new PrepareOptions { Rows = 10 }));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);

        var dir = Prepare(Options());
        var again = DatasetRecipes.Prepare("minilm-2m", dir, options: Options());
        Assert.Contains(again.Notes, n => n.Contains("already prepared"));
        Assert.Throws<RetrievalException>(() => DatasetRecipes.Prepare("minilm-2m", dir, options: Options(seed: 5)));

        Assert.EndsWith("minilm-2m-rows160000", DatasetRecipes.DefaultOutputDirectory("minilm-2m", new PrepareOptions { Rows = 160_000 }));
        Assert.EndsWith(Path.DirectorySeparatorChar + "minilm-2m", DatasetRecipes.DefaultOutputDirectory("minilm-2m", new PrepareOptions()));
    }
}
