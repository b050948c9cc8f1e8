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
