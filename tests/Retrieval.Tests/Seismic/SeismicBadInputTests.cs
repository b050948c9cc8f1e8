using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Seismic;

public class SeismicBadInputTests
{
    private static readonly SparseMatrix Docs = SeismicTestData.Rows(10,
        ([1, 3, 5], [1f, 2f, 3f]),
        ([], []),
        ([3, 4], [0.5f, 4f]),
        ([0, 9], [2f, 0.25f]));

    private static SeismicIndex Index() => SeismicIndex.Build(Docs, SeismicBuildOptions.Lossless);

    private static RetrievalException InvalidBuild(params (int[] Terms, float[] Weights)[] rows)
    {
        var e = Assert.Throws<RetrievalException>(() => SeismicIndex.Build(SeismicTestData.Rows(10, rows)));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        return e;
    }

    [Fact]
    public void BadDocumentsAreRejectedNamingRowAndTerm()
    {
        Assert.Contains("row 1: term id 12 is outside the vocabulary [0, 10)", InvalidBuild(([1], [1f]), ([12], [1f])).Message);
        Assert.Contains("duplicate term id 3", InvalidBuild(([3, 3], [1f, 2f])).Message);
        Assert.Contains("strictly increasing", InvalidBuild(([4, 3], [1f, 2f])).Message);
        Assert.Contains("non-finite weight NaN", InvalidBuild(([2], [float.NaN])).Message);
        Assert.Contains("non-finite", InvalidBuild(([2], [float.PositiveInfinity])).Message);
        Assert.Contains("negative weight -1", InvalidBuild(([2], [-1f])).Message);
        var tooBig = Assert.Throws<RetrievalException>(() => SeismicIndex.Build(SeismicTestData.Rows(10, ([2], [70000f]))));
        Assert.Contains("float16 range", tooBig.Message);
        // The same weight is fine in float32.
        Assert.Equal(1, SeismicIndex.Build(SeismicTestData.Rows(10, ([2], [70000f])), SeismicBuildOptions.Lossless).Count);
    }

    [Fact]
    public void EmptyDocumentsAreKeptButNeverReturned()
    {
        var index = Index();
        Assert.Equal(4, index.Count);
        Assert.Equal(1, index.BuildStats!.EmptyDocuments);
        var all = SeismicTestData.Rows(10, (Enumerable.Range(0, 10).ToArray(), Enumerable.Repeat(1f, 10).ToArray()));
        var r = index.Search(all, k: 4, SeismicSearchParameters.Exhaustive);
        Assert.DoesNotContain(1, r.Ids);
        Assert.Equal(SearchResults.MissingId, r.Ids[3]);

        // A collection of only empty documents builds and answers nothing.
        var empty = SeismicIndex.Build(SeismicTestData.Rows(10, ([], []), ([], [])));
        Assert.All(empty.Search(all, 2).Ids, id => Assert.Equal(SearchResults.MissingId, id));
        // And no documents at all.
        var none = SeismicIndex.Build(new SparseMatrix(0, 10, [0], [], []));
        Assert.All(none.Search(all, 3).Ids, id => Assert.Equal(SearchResults.MissingId, id));
    }

    [Fact]
    public void EmptyQueryAndQueryWithNoKnownTermReturnPaddingNotAnError()
    {
        var index = Index();
        var queries = SeismicTestData.Rows(10, ([], []), ([2, 6, 7, 8], [1f, 1f, 1f, 1f]));
        var r = index.Search(queries, 3);
        Assert.All(r.Ids, id => Assert.Equal(SearchResults.MissingId, id));
        Assert.All(r.Scores, s => Assert.True(float.IsNaN(s)));
        Span<int> ids = stackalloc int[3];
        Span<float> scores = stackalloc float[3];
        Assert.Equal(0, index.SearchOne(new SparseVector([], []), 3, ids, scores));
    }

    [Fact]
    public void BadQueriesAreRejectedNamingRowAndTerm()
    {
        var index = Index();
        RetrievalException Bad(params (int[] Terms, float[] Weights)[] rows)
        {
            var e = Assert.Throws<RetrievalException>(() => index.Search(SeismicTestData.Rows(10, rows), 2));
            Assert.Equal(ErrorKind.InvalidInput, e.Kind);
            return e;
        }
        Assert.Contains("query row 1: term id 10 is outside the index vocabulary [0, 10)", Bad(([1], [1f]), ([10], [1f])).Message);
        Assert.Contains("duplicate term id 3", Bad(([3, 3], [1f, 1f])).Message);
        Assert.Contains("strictly increasing", Bad(([5, 3], [1f, 1f])).Message);
        Assert.Contains("non-finite weight NaN", Bad(([3], [float.NaN])).Message);
        Assert.Contains("negative weight", Bad(([3], [-0.5f])).Message);
        var wide = Assert.Throws<RetrievalException>(() => index.Search(new SparseMatrix(1, 11, [0, 1], [10], [1f]), 2));
        Assert.Contains("11 columns", wide.Message);
    }

    [Fact]
    public void KOutOfRange()
    {
        var index = Index();
        var q = SeismicTestData.Rows(10, ([3], [1f]));
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<RetrievalException>(() => index.Search(q, 0)).Kind);
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<RetrievalException>(() => index.Search(q, -3)).Kind);
        // k > N: every match, then padding.
        var r = index.Search(q, 10, SeismicSearchParameters.Exhaustive);
        Assert.Equal([0, 2], r.Ids[..2]);
        Assert.Equal([2f, 0.5f], r.Scores[..2]);
        Assert.All(r.Ids[2..], id => Assert.Equal(SearchResults.MissingId, id));
        int[] ids = new int[2];
        float[] scores = new float[2];
        Assert.Throws<RetrievalException>(() => index.SearchOne(new SparseVector([3], [1f]), 3, ids, scores));
    }

    [Fact]
    public void OptionsAndParametersAreValidatedWithReadableErrors()
    {
        var e = Assert.Throws<RetrievalException>(() => SeismicIndex.Build(Docs, new SeismicBuildOptions
        {
            Pruning = PostingPruning.FixedLambda,
            Lambda = 0,
            CentroidFraction = 0,
            SummaryEnergy = 1.5,
        }));
        Assert.Contains("Lambda must be >= 1", e.Message);
        Assert.Contains("CentroidFraction", e.Message);
        Assert.Contains("SummaryEnergy (alpha)", e.Message);
        e = Assert.Throws<RetrievalException>(() => SeismicIndex.Build(Docs, new SeismicBuildOptions { AvgPostings = double.NaN }));
        Assert.Contains("AvgPostings", e.Message);
        var q = SeismicTestData.Rows(10, ([3], [1f]));
        e = Assert.Throws<RetrievalException>(() => Index().Search(q, 2, new SeismicSearchParameters { QueryCut = 0, HeapFactor = -1 }));
        Assert.Contains("QueryCut must be >= 1", e.Message);
        Assert.Contains("HeapFactor must be a finite number >= 0", e.Message);
        e = Assert.Throws<RetrievalException>(() => Index().Search(q, 2, null, threads: -1));
        Assert.Contains("threads", e.Message);
    }

    [Fact]
    public void MismatchedIdCountIsRejected()
    {
        var e = Assert.Throws<RetrievalException>(() => SeismicIndex.Build(Docs, null, ["a", "b"]));
        Assert.Contains("2 document ids for 4 documents", e.Message);
    }
}
