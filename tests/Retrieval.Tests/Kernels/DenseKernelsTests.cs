using Retrieval.Index.Errors;
using Retrieval.Index.Vectors.Kernels;
using static Retrieval.Tests.Kernels.KernelReference;

namespace Retrieval.Tests.Kernels;

public class DenseKernelsTests
{
    /// <summary>Every length 0..300 (all 16/8-lane tails) plus a few long ones, each with its own fixed seed.</summary>
    public static IEnumerable<int> Lengths()
    {
        for (int n = 0; n <= 300; n++) yield return n;
        yield return 1000;
        yield return 4099;
        yield return 65_537;
    }

    [Fact]
    public void Float32RowsMatchTheScalarReference()
    {
        foreach (int n in Lengths())
        {
            var rng = new Random(1000 + n);
            var q = RandomFloats(rng, n);
            var x = RandomFloats(rng, n, 3f);
            CheckAll(q, x, DenseKernels.Dot(q, x), DenseKernels.SquaredL2(q, x), DenseKernels.Cosine(q, x), n, "float32");
        }
    }

    [Fact]
    public void Float16RowsMatchTheScalarReference()
    {
        foreach (int n in Lengths())
        {
            var rng = new Random(2000 + n);
            var q = RandomFloats(rng, n);
            var x = RandomHalves(rng, n);
            CheckAll(q, Widen(x), DenseKernels.Dot(q, x), DenseKernels.SquaredL2(q, x), DenseKernels.Cosine(q, x), n, "float16");
        }
    }

    [Fact]
    public void UInt8RowsMatchTheScalarReference()
    {
        foreach (int n in Lengths())
        {
            var rng = new Random(3000 + n);
            var q = RandomFloats(rng, n, 200f);
            var x = RandomBytes(rng, n);
            CheckAll(q, Widen(x), DenseKernels.Dot(q, x), DenseKernels.SquaredL2(q, x), DenseKernels.Cosine(q, x), n, "uint8");
        }
    }

    [Fact]
    public void Int8RowsMatchTheScalarReference()
    {
        foreach (int n in Lengths())
        {
            var rng = new Random(4000 + n);
            var q = RandomFloats(rng, n, 100f);
            var x = RandomSBytes(rng, n);
            CheckAll(q, Widen(x), DenseKernels.Dot(q, x), DenseKernels.SquaredL2(q, x), DenseKernels.Cosine(q, x), n, "int8");
        }
    }

    [Fact]
    public void IntegerValuedBytesGiveExactResults()
    {
        // Small integers are exact in float32, so 8-bit kernels must agree with the reference to the last bit;
        // this is what lets exact search reproduce integer (SIFT) ground truth including its ties.
        // n <= 256 keeps every sum of 255 * 255 products below 2^24.
        for (int n = 0; n <= 256; n++)
        {
            var rng = new Random(5000 + n);
            var x = RandomBytes(rng, n);
            var qBytes = RandomBytes(rng, n);
            var q = Widen(qBytes);
            Assert.Equal(Dot(q, Widen(x)), DenseKernels.Dot(q, x));
            Assert.Equal(SquaredL2(q, Widen(x)), DenseKernels.SquaredL2(q, x));
            var s = RandomSBytes(rng, n);
            Assert.Equal(Dot(q, Widen(s)), DenseKernels.Dot(q, s));
            Assert.Equal(SquaredL2(q, Widen(s)), DenseKernels.SquaredL2(q, s));
        }
    }

    [Fact]
    public void ZeroVectorsHaveCosineZero()
    {
        foreach (int n in new[] { 0, 1, 7, 16, 33, 384 })
        {
            var rng = new Random(n);
            var zero = new float[n];
            var x = RandomFloats(rng, n);
            Assert.Equal(0f, DenseKernels.Cosine(zero, x));
            Assert.Equal(0f, DenseKernels.Cosine(x, zero));
            Assert.Equal(0f, DenseKernels.Cosine(zero, zero));
            Assert.Equal(0f, DenseKernels.Cosine(x, new Half[n]));
            Assert.Equal(0f, DenseKernels.Cosine(x, new byte[n]));
            Assert.Equal(0f, DenseKernels.Dot(zero, x));
            Assert.Equal(Dot(x, x), DenseKernels.SquaredL2(zero, x), Tolerance(n, Dot(x, x)));
        }
    }

    [Fact]
    public void CosineOfAVectorWithItselfIsOne()
    {
        var rng = new Random(11);
        foreach (int n in new[] { 1, 5, 17, 384, 1001 })
        {
            var x = RandomFloats(rng, n);
            Assert.Equal(1.0, DenseKernels.Cosine(x, x), 1e-5);
        }
    }

    [Fact]
    public void MismatchedLengthsAreRejected()
    {
        var ex = Assert.Throws<RetrievalException>(() => DenseKernels.Dot(new float[3], new float[4]));
        Assert.Equal(ErrorKind.InvalidInput, ex.Kind);
        Assert.Contains("dimension mismatch", ex.Message);
        Assert.Throws<RetrievalException>(() => DenseKernels.SquaredL2(new float[3], new Half[2]));
        Assert.Throws<RetrievalException>(() => DenseKernels.Cosine(new float[16], new byte[17]));
    }

    [Fact]
    public void SquaredNormMatchesTheReference()
    {
        for (int n = 0; n <= 300; n++)
        {
            var rng = new Random(6000 + n);
            var x = RandomHalves(rng, n);
            var w = Widen(x);
            Assert.Equal(Dot(w, w), DenseKernels.SquaredNorm(x), Tolerance(n, Dot(w, w)));
            var f = RandomFloats(rng, n);
            Assert.Equal(Dot(f, f), DenseKernels.SquaredNorm(f), Tolerance(n, Dot(f, f)));
        }
    }

    private static void CheckAll(float[] q, float[] x, float dot, float l2, float cosine, int n, string type)
    {
        double refDot = Dot(q, x);
        Assert.True(Math.Abs(refDot - dot) <= Tolerance(n, DotMagnitude(q, x)), $"{type} dot n={n}: got {dot}, expected {refDot}");
        double refL2 = SquaredL2(q, x);
        Assert.True(Math.Abs(refL2 - l2) <= Tolerance(n, refL2), $"{type} squared L2 n={n}: got {l2}, expected {refL2}");
        double refCos = Cosine(q, x);
        Assert.True(Math.Abs(refCos - cosine) <= 1e-5 + Tolerance(n, 1.0), $"{type} cosine n={n}: got {cosine}, expected {refCos}");
    }
}
