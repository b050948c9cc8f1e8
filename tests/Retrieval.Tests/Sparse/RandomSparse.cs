using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Sparse;

/// <summary>Seeded random sparse vectors and matrices for property tests.</summary>
internal static class RandomSparse
{
    /// <summary>Sorted distinct term ids below <paramref name="vocabulary"/>, <paramref name="nnz"/> of them.</summary>
    public static int[] TermIds(Random rng, int vocabulary, int nnz)
    {
        nnz = Math.Min(nnz, vocabulary);
        var chosen = new HashSet<int>();
        while (chosen.Count < nnz) chosen.Add(rng.Next(vocabulary));
        var ids = chosen.ToArray();
        Array.Sort(ids);
        return ids;
    }

    /// <summary>
    /// Weights either continuous in (-1, 1) or, with <paramref name="fewLevels"/>, small integers 1..3 so that
    /// equal dot products (ties) between different documents are common; integer products sum exactly in float.
    /// </summary>
    public static float[] Weights(Random rng, int count, bool fewLevels)
    {
        var w = new float[count];
        for (int i = 0; i < count; i++)
            w[i] = fewLevels ? rng.Next(1, 4) : (float)(rng.NextDouble() * 2 - 1);
        return w;
    }

    public static SparseMatrix Matrix(Random rng, int rows, int vocabulary, int maxNnz, bool fewLevels)
    {
        var offsets = new long[rows + 1];
        var indices = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            var ids = TermIds(rng, vocabulary, rng.Next(0, maxNnz + 1));
            indices.AddRange(ids);
            values.AddRange(Weights(rng, ids.Length, fewLevels));
            offsets[r + 1] = indices.Count;
        }
        return new SparseMatrix(rows, vocabulary, offsets, indices.ToArray(), values.ToArray());
    }

    /// <summary>The plain reference: double-free, one float, ascending term order via a dictionary lookup.</summary>
    public static float ReferenceDot(ReadOnlySpan<int> ai, ReadOnlySpan<float> av, ReadOnlySpan<int> bi, ReadOnlySpan<float> bv)
    {
        var b = new Dictionary<int, float>();
        for (int j = 0; j < bi.Length; j++) b[bi[j]] = bv[j];
        float sum = 0f;
        for (int i = 0; i < ai.Length; i++)
            if (b.TryGetValue(ai[i], out var w)) sum += av[i] * w;
        return sum;
    }
}
