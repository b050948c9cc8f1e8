using Retrieval.Bench.Benchmarks.Seismic;
using Retrieval.Index.Exact;
using Retrieval.Index.Search;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

public class LuceneSparsePeerTests
{
    /// <summary>
    /// The Lucene peer's payload scoring (SloppyFreq, idf, norms, coord all neutralised) must reproduce exact sparse
    /// inner products; if SloppyFreq were left at Lucene's default every score would come out halved.
    /// </summary>
    [Fact]
    public void PayloadScoresEqualExactDotProducts()
    {
        var docs = SeismicTestData.Collection(31, rows: 600, vocabulary: 300, maxNnz: 25);
        var queries = SeismicTestData.Collection(32, rows: 25, vocabulary: 300, maxNnz: 8);
        var exact = new ExactSparseIndex(docs).Search(queries, 10, threads: 1);
        var dir = Path.Combine(TestData.TempDirectory(), "lucene");
        using var peer = LuceneSparsePeer.Build(docs, dir);
        Assert.True(peer.IndexBytes > 0);
        var lucene = new SearchResults(queries.RowCount, 10);
        for (int q = 0; q < queries.RowCount; q++) peer.SearchOne(queries.Row(q), 10, lucene.IdsOf(q), lucene.ScoresOf(q));
        SeismicExactnessTests.AssertSameTopK(exact, lucene);
    }
}
