using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Sparse;

public class SparseDotTests
{
    [Fact]
    public void SparseSparseMatchesReferenceBitForBitOnRandomVectors()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 1000; trial++)
        {
            int vocabulary = rng.Next(1, 2000);
            // Lengths from empty to the whole vocabulary, often very unequal so galloping runs in both directions.
            int na = PickLength(rng, vocabulary), nb = PickLength(rng, vocabulary);
            var ai = RandomSparse.TermIds(rng, vocabulary, na);
            var bi = RandomSparse.TermIds(rng, vocabulary, nb);
            var av = RandomSparse.Weights(rng, ai.Length, fewLevels: false);
            var bv = RandomSparse.Weights(rng, bi.Length, fewLevels: false);
            float expected = RandomSparse.ReferenceDot(ai, av, bi, bv);
            // Same ascending-term summation order, so equality is exact, not approximate.
            Assert.Equal(expected, SparseDot.Dot(ai, av, bi, bv));
            Assert.Equal(expected, SparseDot.Dot(bi, bv, ai, av));
        }
    }

    private static int PickLength(Random rng, int vocabulary) => rng.Next(4) switch
    {
        0 => rng.Next(0, 3),
        1 => rng.Next(0, 20),
        2 => rng.Next(0, vocabulary + 1),
        _ => vocabulary,
    };

    [Fact]
    public void EmptyDisjointAndIdenticalCases()
    {
        int[] none = [];
        float[] noWeights = [];
        int[] a = [1, 5, 9];
        float[] aw = [0.5f, 2f, -1f];
        Assert.Equal(0f, SparseDot.Dot(none, noWeights, a, aw));
        Assert.Equal(0f, SparseDot.Dot(a, aw, none, noWeights));
        Assert.Equal(0f, SparseDot.Dot(a, aw, [0, 2, 6, 10], [1f, 1f, 1f, 1f]));     // interleaved, disjoint
        Assert.Equal(0f, SparseDot.Dot(a, aw, [100, 200], [1f, 1f]));               // ranges do not overlap
        Assert.Equal(0.25f + 4f + 1f, SparseDot.Dot(a, aw, a, aw));                 // identical: squared norm
        Assert.Equal(2f * 3f, SparseDot.Dot(a, aw, [5], [3f]));                     // single match
    }

    [Fact]
    public void GallopingFindsMatchesAtBothEndsOfALongList()
    {
        // One short vector against a long one; matches at the first and last positions and one in the middle.
        int n = 10_000;
        var longIds = Enumerable.Range(0, n).Select(i => i * 3).ToArray();
        var longW = Enumerable.Range(0, n).Select(i => (float)(i % 7 + 1)).ToArray();
        int[] shortIds = [0, 1, 15_000, 15_001, (n - 1) * 3, n * 3];
        float[] shortW = [1f, 100f, 2f, 100f, 4f, 100f];
        float expected = RandomSparse.ReferenceDot(shortIds, shortW, longIds, longW);
        Assert.Equal(1f * 1f + 2f * longW[5000] + 4f * longW[n - 1], expected);
        Assert.Equal(expected, SparseDot.Dot(shortIds, shortW, longIds, longW));
        Assert.Equal(expected, SparseDot.Dot(longIds, longW, shortIds, shortW));
    }

    [Fact]
    public void LowerBoundFromMatchesLinearScan()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 500; trial++)
        {
            var ids = RandomSparse.TermIds(rng, 500, rng.Next(0, 200));
            int start = rng.Next(0, ids.Length + 1), term = rng.Next(-2, 505);
            int expected = start;
            while (expected < ids.Length && ids[expected] < term) expected++;
            Assert.Equal(expected, SparseDot.LowerBoundFrom(ids, start, term));
        }
    }

    [Fact]
    public void SparseDenseMatchesReferenceAtEveryLength()
    {
        var rng = new Random(5);
        for (int nnz = 0; nnz <= 300; nnz++)
        {
            int dimension = nnz + rng.Next(0, 400);
            var dense = RandomSparse.Weights(rng, dimension, fewLevels: false);
            var ids = RandomSparse.TermIds(rng, dimension, nnz);
            var w = RandomSparse.Weights(rng, ids.Length, fewLevels: false);
            double expected = 0;
            for (int i = 0; i < ids.Length; i++) expected += (double)w[i] * dense[ids[i]];
            float got = SparseDot.Dot(ids, w, dense);
            // The SIMD gather sums in another order than the scalar reference: allow float rounding.
            Assert.True(Math.Abs(got - expected) <= 1e-5 * Math.Max(1, nnz), $"nnz {nnz}: {got} vs {expected}");
        }
    }

    [Fact]
    public void SparseDenseWithIntegerWeightsIsExact()
    {
        // Small integers sum exactly in any order, so this pins the gather indices themselves.
        var rng = new Random(9);
        var dense = Enumerable.Range(0, 1000).Select(i => (float)(i % 13)).ToArray();
        var ids = RandomSparse.TermIds(rng, 1000, 257);
        var w = RandomSparse.Weights(rng, ids.Length, fewLevels: true);
        float expected = 0;
        for (int i = 0; i < ids.Length; i++) expected += w[i] * dense[ids[i]];
        var sparse = new SparseVector(ids, w);
        Assert.Equal(expected, SparseDot.Dot(sparse, dense));
    }

    [Fact]
    public void SparseDenseRejectsIdsBeyondTheDenseDimension()
    {
        var ex = Assert.Throws<RetrievalException>(() => SparseDot.Dot([1, 8], [1f, 1f], new float[8]));
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains("dimension 8", ex.Message);
    }

    [Fact]
    public void MismatchedIdAndWeightLengthsAreRejected()
    {
        var ex = Assert.Throws<RetrievalException>(() => SparseDot.Dot([1, 2], [1f], [1], [1f]));
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
    }
}
