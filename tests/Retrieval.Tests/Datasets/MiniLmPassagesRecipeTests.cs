using System.IO.Compression;
using Retrieval.Bench.Datasets;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

/// <summary>
/// The minilm-passages recipe end to end on a small passages set (40 passages embedded instead of 160,000):
/// float16 vectors of the package's MiniLM, exact cosine ground truth.
/// </summary>
public class MiniLmPassagesRecipeTests
{
    private static readonly string[] Topics =
        ["a river in eastern Iowa", "a storm during which hail falls", "the quality of being small in number",
         "a library for vector rendering", "a primer of the alphabet", "an apparatus for making copies",
         "a feast with speeches", "a game of go on the computer"];

    private static void WriteTsvGz(string path, IEnumerable<(string Id, string Text)> rows)
    {
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        using var writer = new StreamWriter(gz);
        foreach (var (id, text) in rows) writer.Write($"{id}\t{text}\n");
    }

    [Fact]
    public void EmbedsThePassagesAndWritesExactCosineGroundTruth()
    {
        var root = TestData.TempDirectory();
        var passages = Path.Combine(root, "passages");
        Directory.CreateDirectory(passages);
        WriteTsvGz(Path.Combine(passages, "passages.tsv.gz"),
            Enumerable.Range(0, 50).Select(i => ($"p{i}", $"Passage {i}: {Topics[i % Topics.Length]}, variant {i / Topics.Length}.")));
        WriteTsvGz(Path.Combine(passages, "queries.tsv.gz"), Topics.Select((t, i) => ($"q{i}", t)));
        File.WriteAllText(Path.Combine(passages, "manifest.json"), """
            {"name": "passages", "kind": "sparse-text", "base": {"file": "passages.tsv.gz", "format": "tsv", "count": 50},
             "queries": {"file": "queries.tsv.gz", "format": "tsv", "count": 8}, "source": "test texts", "licence": "test"}
            """);
        var output = Path.Combine(TestData.TempDirectory(), "minilm-passages");
        var options = new PrepareOptions { Locator = new DatasetLocator([new DatasetRoot(root, "test root")]), EmbedCount = 40 };
        var stages = new List<string>();
        var result = DatasetRecipes.Prepare("minilm-passages", output, new InlineProgress(p => stages.Add(p.Stage)), options: options);

        var m = DatasetManifest.Load(result.Directory);
        Assert.Equal(Metric.Cosine, m.Metric);
        Assert.Equal(40, m.Base!.Count);
        var baseVectors = DenseVectorFile.Read(m.Base.Path);
        var queries = DenseVectorFile.Read(m.Queries!.Path);
        Assert.Equal(ElementType.Float16, baseVectors.ElementType);
        Assert.Equal((40, 384), (baseVectors.Count, baseVectors.Dimension));
        Assert.Equal(8, queries.Count);
        Assert.Contains(stages, s => s.StartsWith("embed passages", StringComparison.Ordinal));

        // Row 3 is the package-tokenized MiniLM vector of passage 3, stored as float16.
        using (var encoder = new MiniLmEncoder(new MiniLmOptions { Tokenization = MiniLmTokenization.Package }))
        {
            var expected = encoder.Encode(["Passage 3: a library for vector rendering, variant 0."]).Float32Row(0);
            var row = new float[384];
            baseVectors.CopyRowTo(3, row);
            // Batches of other shapes may move the float32 result by rounding noise, so allow one float16 step.
            for (int j = 0; j < 384; j++) Assert.InRange(row[j] - expected[j], -2e-3f, 2e-3f);
        }

        // Ground truth: every base row ranked by cosine over the stored values, in double precision.
        var gt = IntMatrixFile.Read(m.GroundTruth!.Path);
        Assert.Equal((8, 100), (gt.Rows, gt.Columns));
        var b = baseVectors.ToFloat32();
        var q = queries.ToFloat32();
        for (int i = 0; i < q.Count; i++)
        {
            var scores = Enumerable.Range(0, b.Count).Select(r => Cosine(q.Float32Row(i), b.Float32Row(r))).ToArray();
            var order = Enumerable.Range(0, b.Count).OrderByDescending(r => scores[r]).ThenBy(r => r).ToArray();
            var row = gt.Row(i).ToArray();
            Assert.Equal(order, row[..40]);
            Assert.All(row[40..], id => Assert.Equal(-1, id)); // fewer than k base vectors: padded
        }
        // The query about Iowa finds the Iowa passages first.
        Assert.Equal(0, gt.Row(0)[0] % Topics.Length);
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    private sealed class InlineProgress(Action<PrepareProgress> action) : IProgress<PrepareProgress>
    {
        public void Report(PrepareProgress value) => action(value);
    }
}
