using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Exact;

/// <summary>Naive exact search in double precision over float32 copies: the reference ExactDenseIndex must match.</summary>
internal static class ExactDenseReference
{
    /// <summary>Natural score of base row <paramref name="row"/> for query <paramref name="q"/> (double precision).</summary>
    public static double Score(DenseVectors queries, int q, DenseVectors vectors, int row, Metric metric)
    {
        var a = new float[queries.Dimension];
        var b = new float[vectors.Dimension];
        queries.CopyRowTo(q, a);
        vectors.CopyRowTo(row, b);
        return Score(a, b, metric);
    }

    public static double Score(float[] a, float[] b, Metric metric)
    {
        double dot = 0, aa = 0, bb = 0, l2 = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
            double d = (double)a[i] - b[i];
            l2 += d * d;
        }
        return metric switch
        {
            Metric.L2 => l2,
            Metric.InnerProduct => dot,
            _ => aa > 0 && bb > 0 ? dot / Math.Sqrt(aa * bb) : 0.0,
        };
    }

    /// <summary>Top-k ids and natural scores of every query, best first, ties to the lower id.</summary>
    public static (int[] Ids, double[] Scores) Search(DenseVectors vectors, DenseVectors queries, Metric metric, int k)
    {
        var ids = new int[queries.Count * k];
        var scores = new double[queries.Count * k];
        ids.AsSpan().Fill(SearchResults.MissingId);
        scores.AsSpan().Fill(double.NaN);
        var all = new double[vectors.Count];
        var order = new int[vectors.Count];
        var rows = new float[vectors.Count][];
        for (int r = 0; r < vectors.Count; r++) { rows[r] = new float[vectors.Dimension]; vectors.CopyRowTo(r, rows[r]); }
        var query = new float[queries.Dimension];
        for (int q = 0; q < queries.Count; q++)
        {
            queries.CopyRowTo(q, query);
            for (int r = 0; r < vectors.Count; r++) { all[r] = Score(query, rows[r], metric); order[r] = r; }
            Array.Sort(order, (x, y) =>
            {
                int c = metric == Metric.L2 ? all[x].CompareTo(all[y]) : all[y].CompareTo(all[x]);
                return c != 0 ? c : x.CompareTo(y);
            });
            for (int j = 0; j < Math.Min(k, vectors.Count); j++)
            {
                ids[q * k + j] = order[j];
                scores[q * k + j] = all[order[j]];
            }
        }
        return (ids, scores);
    }
}
