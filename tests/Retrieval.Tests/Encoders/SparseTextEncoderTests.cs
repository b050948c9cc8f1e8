using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;

namespace Retrieval.Tests.Encoders;

public class SparseTextEncoderTests
{
    private static readonly string[] Documents =
    [
        "Aspirin relieves tension headaches in adults; aspirin is cheap.",
        "Vitamin C does not prevent the common cold.",
        "Coffee intake and sleep quality: caffeine delays sleep onset in adults.",
        "Headaches, migraines and aspirin: a review of aspirin dosing for headaches and migraines in children.",
        "",
    ];

    private static double Dot(SparseVector a, SparseVector b)
    {
        double sum = 0;
        int i = 0, j = 0;
        while (i < a.Indices.Length && j < b.Indices.Length)
        {
            if (a.Indices[i] == b.Indices[j]) sum += a.Values[i++] * (double)b.Values[j++];
            else if (a.Indices[i] < b.Indices[j]) i++;
            else j++;
        }
        return sum;
    }

    /// <summary>BM25 computed directly from the token lists, the textbook way, as the reference.</summary>
    private static double Bm25(string query, int doc, Bm25Parameters p)
    {
        var tok = BertSparseTokenizer.BertBaseUncased;
        var docs = Documents.Select(d => tok.EncodeToIds(d).Where(t => t != tok.UnknownId).ToList()).ToList();
        double avgdl = docs.Average(d => d.Count);
        double score = 0;
        foreach (var group in tok.EncodeToIds(query).Where(t => t != tok.UnknownId).GroupBy(t => t))
        {
            int df = docs.Count(d => d.Contains(group.Key));
            if (df == 0) continue;
            double idf = Math.Log(1 + (docs.Count - df + 0.5) / (df + 0.5));
            int tf = docs[doc].Count(t => t == group.Key);
            score += group.Count() * idf * tf * (p.K1 + 1) / (tf + p.K1 * (1 - p.B + p.B * docs[doc].Count / avgdl));
        }
        return score;
    }

    [Theory]
    [InlineData(0.9f, 0.4f)]
    [InlineData(1.2f, 0.75f)]
    [InlineData(0.5f, 0f)]
    public void SparseDotProductEqualsBm25Score(float k1, float b)
    {
        var p = new Bm25Parameters(k1, b);
        var encoder = new SparseTextEncoder(threads: 2);
        var (docs, stats) = encoder.FitDocuments(Documents, p);
        string[] queries = ["aspirin for headaches", "sleep and coffee in adults adults", "quantum chromodynamics"];
        var q = encoder.EncodeQueries(queries, stats);
        Assert.Equal(BertVocabulary.BertBaseUncasedSize, docs.ColumnCount);
        Assert.Equal(BertVocabulary.BertBaseUncasedSize, q.ColumnCount);
        Assert.Equal(Documents.Length, docs.RowCount);
        Assert.Equal(0, q.Row(2).NonZeroCount); // no query term occurs in the corpus
        for (int qi = 0; qi < queries.Length; qi++)
            for (int d = 0; d < Documents.Length; d++)
            {
                double expected = Bm25(queries[qi], d, p);
                Assert.Equal(expected, Dot(q.Row(qi), docs.Row(d)), 4);
            }
        Assert.True(Bm25(queries[0], 0, p) > 0);
    }

    [Fact]
    public void StatisticsAndRowsAreConsistent()
    {
        var encoder = new SparseTextEncoder();
        var (docs, stats) = encoder.FitDocuments(Documents);
        Assert.Equal(Documents.Length, stats.DocumentCount);
        var tok = BertSparseTokenizer.BertBaseUncased;
        long tokens = Documents.Sum(d => (long)tok.EncodeToIds(d).Count);
        Assert.Equal(tokens, stats.TotalTokenCount);
        Assert.Equal(0, docs.Row(4).NonZeroCount); // empty text -> empty row
        Assert.True(BertVocabulary.BertBaseUncased.TryGetId("adults", out var adults));
        Assert.Equal(2, stats.DocumentFrequency[adults]);
        for (int r = 0; r < docs.RowCount; r++)
        {
            var row = docs.Row(r);
            for (int i = 1; i < row.NonZeroCount; i++) Assert.True(row.Indices[i] > row.Indices[i - 1]);
            foreach (var v in row.Values) Assert.True(v > 0 && v < Bm25Parameters.DefaultK1 + 1);
        }
        // Documents encoded later against the fitted statistics get the same weights.
        var again = encoder.EncodeDocuments(Documents, stats);
        Assert.Equal(docs.Indices, again.Indices);
        Assert.Equal(docs.Values, again.Values);
    }

    [Fact]
    public void ProgressCountsEveryDocument()
    {
        var texts = Enumerable.Range(0, 3000).Select(i => $"passage {i} about subject {i % 13}").ToArray();
        long last = 0;
        var progress = new SynchronousProgress(v => Interlocked.Exchange(ref last, Math.Max(Interlocked.Read(ref last), v)));
        new SparseTextEncoder().FitDocuments(texts, progress: progress);
        Assert.Equal(3000, Interlocked.Read(ref last));
    }

    [Fact]
    public void BadParametersAndMismatchedStatisticsAreRejected()
    {
        var encoder = new SparseTextEncoder();
        Assert.Throws<RetrievalException>(() => encoder.FitDocuments(Documents, new Bm25Parameters(-1f, 0.4f)));
        Assert.Throws<RetrievalException>(() => encoder.FitDocuments(Documents, new Bm25Parameters(0.9f, 1.5f)));
        var wrong = new CorpusStatistics(1, 3, new int[10]);
        var e = Assert.Throws<RetrievalException>(() => encoder.EncodeQueries(["x"], wrong));
        Assert.Equal(ErrorKind.Incompatible, e.Kind);
    }

    private sealed class SynchronousProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
