using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Sparse;

public class ExactSparseIndexTests
{
    /// <summary>Brute force over every document with <see cref="SparseDot"/>; candidates share at least one term.</summary>
    private static (int[] Ids, float[] Scores) BruteForce(SparseMatrix docs, SparseVector query, int k)
    {
        var candidates = new List<(int Id, float Score)>();
        var queryTerms = new HashSet<int>(query.Indices.ToArray());
        for (int d = 0; d < docs.RowCount; d++)
        {
            var doc = docs.Row(d);
            bool shares = false;
            foreach (var t in doc.Indices) shares |= queryTerms.Contains(t);
            if (shares) candidates.Add((d, SparseDot.Dot(query, doc)));
        }
        var top = candidates.OrderByDescending(c => c.Score).ThenBy(c => c.Id).Take(k).ToList();
        var ids = Enumerable.Repeat(-1, k).ToArray();
        var scores = Enumerable.Repeat(float.NaN, k).ToArray();
        for (int i = 0; i < top.Count; i++) (ids[i], scores[i]) = top[i];
        return (ids, scores);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    public void EqualsBruteForceIncludingTies(int seed, bool fewLevels)
    {
        var rng = new Random(seed);
        // Small vocabulary and integer weights make exact score ties frequent; ties must go to the lower doc id.
        var docs = RandomSparse.Matrix(rng, rows: 400, vocabulary: 60, maxNnz: 12, fewLevels);
        var queries = RandomSparse.Matrix(rng, rows: 50, vocabulary: 60, maxNnz: 6, fewLevels);
        var index = new ExactSparseIndex(docs);
        foreach (int k in new[] { 1, 10, 500 })
        {
            var results = index.Search(queries, k, threads: 1);
            for (int q = 0; q < queries.RowCount; q++)
            {
                var (ids, scores) = BruteForce(docs, queries.Row(q), k);
                Assert.Equal(ids, results.IdsOf(q).ToArray());
                // Same summation order as SparseDot, so scores are bit-identical (NaN padding compares equal).
                Assert.Equal(scores, results.ScoresOf(q).ToArray());
            }
        }
    }

    [Fact]
    public void TiesAreActuallyExercised()
    {
        // Guards the test above against silently testing nothing: with these settings many rank-10 ties exist.
        var rng = new Random(1);
        var docs = RandomSparse.Matrix(rng, rows: 400, vocabulary: 60, maxNnz: 12, fewLevels: true);
        var queries = RandomSparse.Matrix(rng, rows: 50, vocabulary: 60, maxNnz: 6, fewLevels: true);
        var results = new ExactSparseIndex(docs).Search(queries, 10, threads: 1);
        int rowsWithTies = 0;
        for (int q = 0; q < queries.RowCount; q++)
        {
            var s = results.ScoresOf(q);
            for (int i = 1; i < s.Length; i++)
                if (s[i] == s[i - 1]) { rowsWithTies++; break; }
        }
        Assert.True(rowsWithTies > 10, $"only {rowsWithTies} rows with ties");
    }

    [Fact]
    public void OneThreadAndTwoThreadsAgreeAndSearchOneMatches()
    {
        var rng = new Random(21);
        var docs = RandomSparse.Matrix(rng, rows: 3000, vocabulary: 500, maxNnz: 40, fewLevels: false);
        var queries = RandomSparse.Matrix(rng, rows: 200, vocabulary: 500, maxNnz: 15, fewLevels: false);
        var index = new ExactSparseIndex(docs);
        var one = index.Search(queries, 20, threads: 1);
        var two = index.Search(queries, 20, threads: 2);
        var all = index.Search(queries, 20);
        Assert.Equal(one.Ids, two.Ids);
        Assert.Equal(one.Scores, two.Scores);
        Assert.Equal(one.Ids, all.Ids);
        var ids = new int[25];
        var scores = new float[25];
        for (int q = 0; q < queries.RowCount; q++)
        {
            int found = index.SearchOne(queries.Row(q), 20, ids, scores);
            Assert.Equal(one.IdsOf(q).ToArray(), ids[..20]);
            Assert.Equal(one.ScoresOf(q).ToArray(), scores[..20]);
            Assert.Equal(one.IdsOf(q).ToArray().Count(id => id >= 0), found);
        }
    }

    [Fact]
    public void DocumentsWithoutMatchingTermsAreNotReturned()
    {
        // doc 0: terms {1,3}; doc 1: {2}; doc 2: {3,4}; doc 3: empty.
        var docs = new SparseMatrix(4, 6, [0, 2, 3, 5, 5], [1, 3, 2, 3, 4], [1f, 2f, 5f, 0.5f, 1f]);
        var index = new ExactSparseIndex(docs);
        Assert.Equal(4, index.Count);
        Assert.Equal(6, index.VocabularySize);
        Assert.Equal(5, index.NonZeroCount);
        Assert.Equal(2, index.DocumentFrequency(3));
        Assert.Equal(0, index.DocumentFrequency(5));

        // Query {3: 2, 4: 1}: doc0 = 2*2 = 4, doc2 = 2*0.5 + 1*1 = 2; docs 1 and 3 share nothing.
        var queries = new SparseMatrix(3, 6, [0, 2, 2, 3], [3, 4, 5], [2f, 1f, 1f]);
        var results = index.Search(queries, 4);
        Assert.Equal([0, 2, -1, -1], results.IdsOf(0).ToArray());
        Assert.Equal(4f, results.ScoresOf(0)[0]);
        Assert.Equal(2f, results.ScoresOf(0)[1]);
        Assert.True(float.IsNaN(results.ScoresOf(0)[2]));
        // An empty query and a query whose only term no document has: padded rows, not errors.
        Assert.Equal([-1, -1, -1, -1], results.IdsOf(1).ToArray());
        Assert.Equal([-1, -1, -1, -1], results.IdsOf(2).ToArray());
    }

    [Fact]
    public void EmptyCollectionAndNoQueries()
    {
        var empty = new ExactSparseIndex(new SparseMatrix(0, 10, [0], [], []));
        var q = new SparseMatrix(1, 10, [0, 1], [3], [1f]);
        Assert.Equal([-1, -1], empty.Search(q, 2).IdsOf(0).ToArray());
        var none = empty.Search(new SparseMatrix(0, 10, [0], [], []), 2);
        Assert.Equal(0, none.QueryCount);
    }

    [Fact]
    public void BadInputIsRejectedWithTheRowAndTerm()
    {
        var docs = new SparseMatrix(2, 5, [0, 1, 2], [0, 4], [1f, 1f]);
        var index = new ExactSparseIndex(docs);
        var ok = new SparseMatrix(1, 5, [0, 1], [0], [1f]);

        AssertInvalid(() => index.Search(ok, 0), "k must be >= 1");
        AssertInvalid(() => index.Search(ok, 1, threads: -1), "threads");

        // Query vocabulary larger than the index's: term 7 in row 1.
        var wide = new SparseMatrix(2, 10, [0, 1, 3], [0, 2, 7], [1f, 1f, 1f]);
        AssertInvalid(() => index.Search(wide, 1), "query row 1: term id 7");

        var nan = new SparseMatrix(2, 5, [0, 1, 2], [0, 3], [1f, float.NaN]);
        AssertInvalid(() => index.Search(nan, 1), "query row 1: term 3 has non-finite weight NaN");

        var unsorted = new SparseMatrix(1, 5, [0, 2], [3, 1], [1f, 1f]);
        AssertInvalid(() => index.Search(unsorted, 1), "strictly increasing");

        AssertInvalid(() => index.SearchOne(new SparseVector([9], [1f]), 1, new int[1], new float[1]), "term id 9");
        AssertInvalid(() => index.SearchOne(new SparseVector([1], [1f]), 2, new int[1], new float[1]), "need at least k = 2");
        AssertInvalid(() => index.DocumentFrequency(5), "term id 5");

        var badDocs = new SparseMatrix(2, 5, [0, 1, 2], [0, 2], [1f, float.PositiveInfinity]);
        AssertInvalid(() => new ExactSparseIndex(badDocs), "document row 1: term 2 has non-finite weight");
        var dupDocs = new SparseMatrix(1, 5, [0, 2], [2, 2], [1f, 1f]);
        AssertInvalid(() => new ExactSparseIndex(dupDocs), "document row 0: term ids must be strictly increasing");
        var outside = new SparseMatrix(1, 5, [0, 1], [5], [1f]);
        AssertInvalid(() => new ExactSparseIndex(outside), "document row 0: term id 5 is outside");
    }

    private static void AssertInvalid(Action action, string expectedFragment)
    {
        var ex = Assert.Throws<RetrievalException>(action);
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains(expectedFragment, ex.Message);
    }

    [Fact]
    public void SearchOneDoesNotAllocatePerQuery()
    {
        var rng = new Random(4);
        var docs = RandomSparse.Matrix(rng, rows: 2000, vocabulary: 300, maxNnz: 30, fewLevels: false);
        var queries = RandomSparse.Matrix(rng, rows: 50, vocabulary: 300, maxNnz: 10, fewLevels: false);
        var index = new ExactSparseIndex(docs);
        var ids = new int[10];
        var scores = new float[10];
        index.SearchOne(queries.Row(0), 10, ids, scores); // warm: creates this thread's scratch
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int q = 0; q < queries.RowCount; q++) index.SearchOne(queries.Row(q), 10, ids, scores);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
