using System.Runtime.InteropServices;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Exact;

public class ExactDenseIndexTests
{
    public static TheoryData<ElementType, Metric> AllCombinations()
    {
        var data = new TheoryData<ElementType, Metric>();
        foreach (var type in new[] { ElementType.Float32, ElementType.Float16, ElementType.UInt8, ElementType.Int8 })
            foreach (var metric in new[] { Metric.L2, Metric.InnerProduct, Metric.Cosine })
                data.Add(type, metric);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllCombinations))]
    public void MatchesNaiveSearchOnRandomData(ElementType type, Metric metric)
    {
        foreach (int d in new[] { 1, 7, 16, 33, 128 })
        {
            var rng = new Random(d * 31 + (int)type * 7 + (int)metric);
            int n = 300 + rng.Next(200), queryCount = 70, k = 10;
            var vectors = RandomVectors(rng, type, n, d);
            var queries = RandomVectors(rng, ElementType.Float32, queryCount, d);
            var index = new ExactDenseIndex(vectors, metric);
            var (_, refScores) = ExactDenseReference.Search(vectors, queries, metric, k);

            var batched = index.Search(queries, k, threads: 1);
            AssertMatchesReference(batched, refScores, vectors, queries, metric);

            var threaded = index.Search(queries, k, threads: 3);
            Assert.Equal(batched.Ids, threaded.Ids);
            Assert.Equal(batched.Scores, threaded.Scores);

            var ids = new int[k];
            var scores = new float[k];
            var query = new float[d];
            for (int q = 0; q < queryCount; q++)
            {
                queries.CopyRowTo(q, query);
                Assert.Equal(k, index.SearchOne(query, k, ids, scores));
                for (int j = 0; j < k; j++)
                {
                    Assert.Equal(refScores[q * k + j], scores[j], Tolerance(refScores[q * k + j]));
                    if (d % 16 == 0) Assert.Equal(batched.IdsOf(q)[j], ids[j]); // both paths sum in the same order
                }
            }
        }
    }

    [Fact]
    public void IntegerDataReproducesNaiveIdsExactlyIncludingTies()
    {
        // Values 0..3 over 8 dims: many equal distances, all exact in float32, so ids must match the reference
        // (ties to the lower id) position by position.
        var rng = new Random(5);
        int n = 500, d = 8, k = 20;
        var raw = new byte[n * d];
        for (int i = 0; i < raw.Length; i++) raw[i] = (byte)rng.Next(4);
        var vectors = new DenseVectors(ElementType.UInt8, n, d, raw);
        var queries = vectors.Slice(0, 40).ToFloat32();
        foreach (var metric in new[] { Metric.L2, Metric.InnerProduct })
        {
            var (refIds, _) = ExactDenseReference.Search(vectors, queries, metric, k);
            var index = new ExactDenseIndex(vectors, metric);
            Assert.Equal(refIds, index.Search(queries, k, threads: 1).Ids);
            Assert.Equal(refIds, index.Search(queries, k, threads: 2).Ids);
            var ids = new int[k];
            var scores = new float[k];
            for (int q = 0; q < queries.Count; q++)
            {
                index.SearchOne(queries.Float32Row(q), k, ids, scores);
                Assert.Equal(refIds.AsSpan(q * k, k).ToArray(), ids);
            }
        }
    }

    [Fact]
    public void DuplicateRowsTieToTheLowerId()
    {
        var rng = new Random(9);
        int d = 24;
        var row = KernelsRandom(rng, d);
        var data = new float[6 * d];
        for (int r = 0; r < 6; r++) row.CopyTo(data, r * d);
        data[2 * d] += 5f; // row 2 differs
        var vectors = DenseVectors.FromFloat32(data, 6, d);
        foreach (var metric in new[] { Metric.L2, Metric.InnerProduct, Metric.Cosine })
        {
            var index = new ExactDenseIndex(vectors, metric);
            var q = DenseVectors.FromFloat32(row.ToArray(), 1, d);
            var result = index.Search(q, 4, threads: 1);
            var expected = metric == Metric.InnerProduct && row[0] > 0f ? new[] { 2, 0, 1, 3 } : new[] { 0, 1, 3, 4 };
            Assert.Equal(expected, result.IdsOf(0).ToArray());
        }
    }

    [Fact]
    public void SplitsTheBaseAcrossThreadsForFewQueriesAndMergesExactly()
    {
        // 2 queries = one tile, so threads > 1 splits the base into ranges and merges per-range heaps.
        var rng = new Random(21);
        int n = 20_000, d = 16, k = 25;
        var vectors = RandomVectors(rng, ElementType.Float16, n, d);
        var queries = RandomVectors(rng, ElementType.Float32, 2, d);
        foreach (var metric in new[] { Metric.L2, Metric.Cosine })
        {
            var index = new ExactDenseIndex(vectors, metric);
            var one = index.Search(queries, k, threads: 1);
            var four = index.Search(queries, k, threads: 4);
            Assert.Equal(one.Ids, four.Ids);
            Assert.Equal(one.Scores, four.Scores);
        }
    }

    [Fact]
    public void KLargerThanCountIsPaddedAndEmptyBaseReturnsPaddedResults()
    {
        var vectors = DenseVectors.FromFloat32([1, 0, 0, 1, 1, 1], 3, 2);
        var index = new ExactDenseIndex(vectors, Metric.L2);
        var queries = DenseVectors.FromFloat32([1, 0], 1, 2);
        var result = index.Search(queries, 5);
        Assert.Equal(new[] { 0, 2, 1, -1, -1 }, result.IdsOf(0).ToArray());
        Assert.Equal(new[] { 0f, 1f, 2f }, result.ScoresOf(0)[..3].ToArray());
        Assert.True(float.IsNaN(result.ScoresOf(0)[3]) && float.IsNaN(result.ScoresOf(0)[4]));

        var ids = new int[6];
        var scores = new float[6];
        Assert.Equal(3, index.SearchOne([1f, 0f], 5, ids, scores));
        Assert.Equal(new[] { 0, 2, 1, -1, -1, 0 }, ids);

        var empty = new ExactDenseIndex(new DenseVectors(ElementType.Float16, 0, 2, []), Metric.Cosine);
        Assert.Equal(0, empty.Count);
        var none = empty.Search(queries, 3);
        Assert.Equal(new[] { -1, -1, -1 }, none.Ids);
        Assert.All(none.Scores, s => Assert.True(float.IsNaN(s)));
        Assert.Equal(0, empty.SearchOne([1f, 0f], 3, ids, scores));
        Assert.Equal(-1, ids[0]);
    }

    [Fact]
    public void ZeroQueryHasCosineZeroWithEveryRow()
    {
        var vectors = DenseVectors.FromFloat32([1, 0, 0, 1, 3, 4, 0, 0], 4, 2);
        var index = new ExactDenseIndex(vectors, Metric.Cosine);
        var result = index.Search(DenseVectors.FromFloat32([0, 0], 1, 2), 4);
        Assert.Equal(new[] { 0, 1, 2, 3 }, result.IdsOf(0).ToArray());
        Assert.Equal(new[] { 0f, 0f, 0f, 0f }, result.ScoresOf(0).ToArray());
        var rowZero = index.Search(DenseVectors.FromFloat32([1, 0], 1, 2), 4);
        Assert.Equal(new[] { 0, 2, 1, 3 }, rowZero.IdsOf(0).ToArray()); // the zero row 3 scores 0, after row 1 (also 0)
        Assert.Equal(0f, rowZero.ScoresOf(0)[3]);
    }

    [Fact]
    public void BadInputIsRejectedWithClearErrors()
    {
        var vectors = DenseVectors.FromFloat32([1, 2, 3, 4, 5, 6], 2, 3);
        var index = new ExactDenseIndex(vectors, Metric.InnerProduct);
        var queries = DenseVectors.FromFloat32([1, 2, 3], 1, 3);

        AssertInvalid(() => index.Search(queries, 0), "k must be >= 1");
        AssertInvalid(() => index.Search(queries, -3), "k must be >= 1");
        AssertInvalid(() => index.Search(DenseVectors.FromFloat32([1, 2], 1, 2), 1), "dimension mismatch");
        AssertInvalid(() => index.Search(queries, 1, threads: -1), "threads");
        AssertInvalid(() => index.Search(DenseVectors.FromFloat32([1, 2, 3, 4, float.NaN, 6, 7, 8, 9], 3, 3), 1), "query row 1");
        AssertInvalid(() => index.Search(DenseVectors.FromFloat32([1, 2, 3, 4, 5, 6, 7, 8, float.PositiveInfinity], 3, 3), 1), "query row 2");
        var halfInf = new DenseVectors(ElementType.Float16, 1, 3, MemoryMarshal.AsBytes(new[] { (Half)1, Half.NegativeInfinity, (Half)0 }.AsSpan()).ToArray());
        AssertInvalid(() => index.Search(halfInf, 1), "query row 0");

        var ids = new int[2];
        var scores = new float[2];
        AssertInvalid(() => index.SearchOne([1f, 2f, 3f], 0, ids, scores), "k must be >= 1");
        AssertInvalid(() => index.SearchOne([1f, 2f], 1, ids, scores), "dimension mismatch");
        AssertInvalid(() => index.SearchOne([1f, float.NaN, 3f], 1, ids, scores), "NaN");
        AssertInvalid(() => index.SearchOne([1f, 2f, 3f], 3, ids, scores), "output spans");

        AssertInvalid(() => new ExactDenseIndex(DenseVectors.FromFloat32([1, 2, 3, 4, float.NaN, 6], 2, 3), Metric.L2), "base vector row 1");
        var badHalf = new DenseVectors(ElementType.Float16, 1, 2, MemoryMarshal.AsBytes(new[] { Half.NaN, (Half)0 }.AsSpan()).ToArray());
        AssertInvalid(() => new ExactDenseIndex(badHalf, Metric.Cosine), "base vector row 0");
    }

    [Fact]
    public void SearchOneDoesNotAllocateOnceWarm()
    {
        var rng = new Random(4);
        var vectors = RandomVectors(rng, ElementType.Float16, 2000, 40);
        var query = KernelsRandom(rng, 40);
        var ids = new int[10];
        var scores = new float[10];
        foreach (var metric in new[] { Metric.L2, Metric.InnerProduct, Metric.Cosine })
        {
            var index = new ExactDenseIndex(vectors, metric);
            index.SearchOne(query, 10, ids, scores);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++) index.SearchOne(query, 10, ids, scores);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    private static void AssertInvalid(Action action, string fragment)
    {
        var ex = Assert.ThrowsAny<RetrievalException>(action);
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains(fragment, ex.Message);
    }

    /// <summary>
    /// Position by position, reported scores equal the reference within float32 rounding, and every reported id's
    /// true score equals the reported score: the result is a correct top-k up to near-ties (exact id equality on
    /// tie-heavy integer data is checked separately).
    /// </summary>
    private static void AssertMatchesReference(SearchResults got, double[] refScores, DenseVectors vectors,
        DenseVectors queries, Metric metric)
    {
        for (int q = 0; q < got.QueryCount; q++)
        {
            for (int j = 0; j < got.K; j++)
            {
                int at = q * got.K + j;
                Assert.Equal(refScores[at], got.Scores[at], Tolerance(refScores[at]));
                double trueScore = ExactDenseReference.Score(queries, q, vectors, got.Ids[at], metric);
                Assert.Equal(trueScore, got.Scores[at], Tolerance(trueScore));
            }
        }
    }

    private static double Tolerance(double score) => 1e-4 * Math.Max(1.0, Math.Abs(score));

    private static float[] KernelsRandom(Random rng, int n) => Kernels.KernelReference.RandomFloats(rng, n);

    internal static DenseVectors RandomVectors(Random rng, ElementType type, int n, int d)
    {
        var bytes = new byte[n * d * type.SizeInBytes()];
        switch (type)
        {
            case ElementType.Float32: MemoryMarshal.Cast<float, byte>(KernelsRandom(rng, n * d)).CopyTo(bytes); break;
            case ElementType.Float16: MemoryMarshal.Cast<Half, byte>(Kernels.KernelReference.RandomHalves(rng, n * d)).CopyTo(bytes); break;
            default: rng.NextBytes(bytes); break;
        }
        return new DenseVectors(type, n, d, bytes);
    }
}
