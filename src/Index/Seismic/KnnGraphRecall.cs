namespace Retrieval.Index.Seismic;

/// <summary>
/// How close an approximate <see cref="KnnGraph"/> is to the exact one: for a seeded sample of non-empty rows, the
/// fraction of each row's kappa true nearest neighbours (exact inner products of the stored vectors over every other
/// row, self excluded) that its graph row holds. Tie-aware: a graph neighbour scoring at least the kappa-th true score
/// (within 1e-5 relative) counts as a hit, so equal-scoring documents are interchangeable.
/// </summary>
internal static class KnnGraphRecall
{
    /// <summary>Mean recall@kappa over up to <paramref name="sampleRows"/> rows (0 when the index has no graph or no non-empty row).</summary>
    public static double Measure(SeismicIndex index, int sampleRows, int seed = 1, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (index.Graph is not { } graph || sampleRows <= 0) return 0;
        var forward = index.Forward;
        int rows = index.Count, kappa = graph.Kappa;
        var rng = new Random(seed);
        var sample = new List<int>(sampleRows);
        for (int attempt = 0; sample.Count < Math.Min(sampleRows, rows) && attempt < 20 * sampleRows; attempt++)
        {
            int row = rng.Next(rows);
            if (forward.LengthOf(row) > 0 && !sample.Contains(row)) sample.Add(row);
        }
        if (sample.Count == 0) return 0;
        var recalls = new double[sample.Count];
        int workers = threads == 0 ? Environment.ProcessorCount : threads;
        Parallel.For(0, sample.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, workers) }, () =>
            (Dense: new float[index.VocabularySize], Terms: new int[Math.Max(1, index.MaxDocumentLength)],
             Weights: new float[Math.Max(1, index.MaxDocumentLength)], Best: new float[kappa]),
            (s, _, buffers) =>
            {
                int row = sample[s];
                int length = forward.CopyRow(row, buffers.Terms, buffers.Weights);
                for (int i = 0; i < length; i++) buffers.Dense[buffers.Terms[i]] = buffers.Weights[i];
                // The kappa best exact scores of other rows (a sorted-descending insertion list: kappa is small).
                var best = buffers.Best;
                Array.Fill(best, float.NegativeInfinity);
                for (int other = 0; other < rows; other++)
                {
                    if (other == row) continue;
                    float score = forward.Dot(other, buffers.Dense);
                    if (score <= best[kappa - 1]) continue;
                    int at = kappa - 1;
                    while (at > 0 && best[at - 1] < score)
                    {
                        best[at] = best[at - 1];
                        at--;
                    }
                    best[at] = score;
                }
                float bar = best[kappa - 1];
                int wanted = 0;
                for (int i = 0; i < kappa; i++) if (best[i] > 0) wanted++;
                int hits = 0;
                if (wanted > 0)
                {
                    float cut = bar > 0 ? bar - 1e-5f * bar : float.Epsilon;
                    foreach (int n in graph.NeighboursOf(row))
                        if (n >= 0 && forward.Dot(n, buffers.Dense) >= cut) hits++;
                }
                // Rows with fewer than kappa positively scoring others can only be judged on those.
                recalls[s] = wanted == 0 ? 1 : Math.Min(1.0, (double)hits / wanted);
                for (int i = 0; i < length; i++) buffers.Dense[buffers.Terms[i]] = 0;
                return buffers;
            },
            _ => { });
        double sum = 0;
        foreach (double r in recalls) sum += r;
        return sum / recalls.Length;
    }
}
