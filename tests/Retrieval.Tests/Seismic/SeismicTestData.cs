using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Seismic;

/// <summary>Seeded random learned-sparse-like collections (non-negative weights, Zipf-ish term popularity).</summary>
internal static class SeismicTestData
{
    public static SparseMatrix Collection(int seed, int rows, int vocabulary, int maxNnz, bool fewLevels = false, int minNnz = 1)
    {
        var rng = new Random(seed);
        var offsets = new long[rows + 1];
        var indices = new List<int>();
        var values = new List<float>();
        var row = new SortedDictionary<int, float>();
        for (int r = 0; r < rows; r++)
        {
            row.Clear();
            int nnz = rng.Next(minNnz, maxNnz + 1);
            while (row.Count < Math.Min(nnz, vocabulary))
            {
                // Skewed popularity: low term ids are common, so some lists are long and blocking matters.
                int term = (int)(vocabulary * Math.Pow(rng.NextDouble(), 2.5));
                row[Math.Min(term, vocabulary - 1)] = fewLevels ? rng.Next(1, 4) : (float)(rng.NextDouble() * 2 + 0.01);
            }
            foreach (var (t, w) in row)
            {
                indices.Add(t);
                values.Add(w);
            }
            offsets[r + 1] = indices.Count;
        }
        return new SparseMatrix(rows, vocabulary, offsets, indices.ToArray(), values.ToArray());
    }

    /// <summary>A single-row matrix from parallel arrays (test convenience).</summary>
    /// <summary>
    /// A real learned-sparse slice (skips the test when ../shared is absent): the first <paramref name="documents"/> MS
    /// MARCO dev queries as SPLADE-v3 vectors are the documents, the first <paramref name="queries"/> as
    /// DistilSPLADE-max vectors the queries, both over the bert-base-uncased vocabulary.
    /// </summary>
    public static (SparseMatrix Documents, SparseMatrix Queries) SpladeSlice(int documents, int queries)
    {
        var dir = Retrieval.Tests.Support.TestData.SharedDataset("splade-queries");
        var vocabulary = Retrieval.Query.Encoders.BertVocabulary.BertBaseUncased;
        var docs = Retrieval.Index.Formats.AnseriniTopicsFile.Read(Path.Combine(dir, "topics.msmarco-passage.dev-subset.splade-v3.tsv.gz"),
            vocabulary, new Retrieval.Index.Formats.SparseReadOptions { MaxRows = documents });
        var q = Retrieval.Index.Formats.AnseriniTopicsFile.Read(Path.Combine(dir, "topics.msmarco-passage.dev-subset.distill-splade-max.tsv.gz"),
            vocabulary, new Retrieval.Index.Formats.SparseReadOptions { MaxRows = queries });
        return (docs.Vectors, q.Vectors);
    }

    /// <summary>
    /// Rewrites one file of a saved index with valid framing and checksum (<paramref name="sections"/> writes its
    /// sections) and records its new size and CRC in the manifest, so only the contents under test are wrong.
    /// </summary>
    public static void RewriteIndexFile(string dir, string file, string magic, int sectionCount,
        Action<Retrieval.Index.Storage.ChecksummedBinaryFile.Writer> sections)
    {
        using var w = new Retrieval.Index.Storage.ChecksummedBinaryFile.Writer(Path.Combine(dir, file), magic,
            Retrieval.Index.Seismic.SeismicIndexFormat.CurrentVersion, sectionCount);
        sections(w);
        w.Commit();
        var manifestPath = Path.Combine(dir, Retrieval.Index.Seismic.SeismicIndexFormat.ManifestFile);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifestPath))!;
        var entry = manifest["files"]!.AsArray().First(f => f!["name"]!.GetValue<string>() == file)!;
        entry["bytes"] = w.Length;
        entry["crc32c"] = w.Checksum.ToString("x8");
        File.WriteAllText(manifestPath, manifest.ToJsonString());
    }

    public static SparseMatrix Rows(int vocabulary, params (int[] Terms, float[] Weights)[] rows)
    {
        var offsets = new long[rows.Length + 1];
        var indices = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < rows.Length; r++)
        {
            indices.AddRange(rows[r].Terms);
            values.AddRange(rows[r].Weights);
            offsets[r + 1] = indices.Count;
        }
        return new SparseMatrix(rows.Length, vocabulary, offsets, indices.ToArray(), values.ToArray());
    }
}
