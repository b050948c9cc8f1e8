using Retrieval.Index.Exact;
using Retrieval.Index.Formats;
using Retrieval.Index.Search;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

/// <summary>Small inputs and helpers shared by the SPANN tests.</summary>
internal static class SpannTestData
{
    public static DenseVectors TinyBase() => DenseVectorFile.Read(TestData.Fixture("tiny-dense", "base.u8bin"));
    public static DenseVectors TinyQueries() => DenseVectorFile.Read(TestData.Fixture("tiny-dense", "queries.u8bin")).ToFloat32();

    public static DenseVectors RandomFloat(int seed, int n, int d, int clusters = 20)
    {
        // Clustered data (like real embeddings), so head selection and pruning have structure to find.
        var rng = new Random(seed);
        var centres = new float[clusters * d];
        for (int i = 0; i < centres.Length; i++) centres[i] = (float)(rng.NextDouble() * 2 - 1);
        var data = new float[n * d];
        for (int i = 0; i < n; i++)
        {
            int c = rng.Next(clusters);
            for (int t = 0; t < d; t++) data[i * d + t] = centres[c * d + t] + (float)(rng.NextDouble() - 0.5) * 0.6f;
        }
        return DenseVectors.FromFloat32(data, n, d);
    }

    public static SpannIndex BuildAndOpen(DenseVectors vectors, SpannBuildOptions options, out string directory)
    {
        directory = Path.Combine(TestData.TempDirectory(), "spann");
        SpannBuilder.Build(vectors, directory, options);
        return SpannIndex.Open(directory);
    }

    public static double Recall(SearchResults found, SearchResults truth, int k)
    {
        int hits = 0;
        for (int q = 0; q < found.QueryCount; q++)
        {
            var t = truth.IdsOf(q)[..k];
            foreach (int id in found.IdsOf(q)[..k]) if (id >= 0 && t.Contains(id)) hits++;
        }
        return (double)hits / (found.QueryCount * k);
    }

    public static SearchResults Exact(DenseVectors vectors, DenseVectors queries, Metric metric, int k) =>
        new ExactDenseIndex(vectors, metric).Search(queries, k, threads: 1);
}
