using Retrieval.Index.Vectors.Kernels;
using static Retrieval.Tests.Kernels.KernelReference;

namespace Retrieval.Tests.Kernels;

public class BlockedKernelTests
{
    [Fact]
    public void ScoreRowsEqualsReduceBitForBitOnEveryRow()
    {
        // The canonical per-row order is what makes duplicate rows tie exactly wherever they sit in a group of four.
        foreach (int d in new[] { 1, 3, 8, 15, 16, 17, 31, 100, 128, 384 })
        {
            var rng = new Random(d);
            for (int count = 0; count <= 13; count++)
            {
                var q = RandomFloats(rng, d);
                var rows = RandomHalves(rng, count * d);
                var scores = new float[count + 1];
                RowKernel.ScoreRows<DotProductAccumulator, Float16Decoder, Half>(ref q[0], ref Ref(rows), count, d, ref scores[0]);
                var l2 = new float[count + 1];
                RowKernel.ScoreRows<SquaredL2Accumulator, Float16Decoder, Half>(ref q[0], ref Ref(rows), count, d, ref l2[0]);
                for (int r = 0; r < count; r++)
                {
                    var row = rows.AsSpan(r * d, d);
                    Assert.Equal(DenseKernels.Run<DotProductAccumulator, Float16Decoder, Half>(q, row), scores[r]);
                    Assert.Equal(DenseKernels.Run<SquaredL2Accumulator, Float16Decoder, Half>(q, row), l2[r]);
                }
            }
        }
    }

    [Fact]
    public void TileKernelMatchesTheReferenceForPaddedShapes()
    {
        foreach (int d in new[] { 1, 5, 16, 23, 64, 130, 384 })
        {
            var rng = new Random(100 + d);
            int queries = 4 + 4 * (d % 3), rows = 8 + 4 * (d % 5);
            int stride = TileKernel.PaddedStride(d);
            var q = RandomFloats(rng, queries * d);
            var x = RandomFloats(rng, rows * d, 2f);
            var qPad = new float[queries * stride];
            var xPad = new float[rows * stride];
            RowDecoder.DecodeRows<Float32Decoder, float>(ref q[0], queries, d, ref qPad[0], stride);
            RowDecoder.DecodeRows<Float32Decoder, float>(ref x[0], rows, d, ref xPad[0], stride);
            int scoreStride = rows + 3;
            var dots = new float[queries * scoreStride];
            var l2 = new float[queries * scoreStride];
            TileKernel.ScoreTile<DotProductAccumulator>(ref qPad[0], queries, ref xPad[0], rows, stride, ref dots[0], scoreStride);
            TileKernel.ScoreTile<SquaredL2Accumulator>(ref qPad[0], queries, ref xPad[0], rows, stride, ref l2[0], scoreStride);
            for (int i = 0; i < queries; i++)
            {
                var qi = q.AsSpan(i * d, d).ToArray();
                for (int r = 0; r < rows; r++)
                {
                    var xr = x.AsSpan(r * d, d).ToArray();
                    Assert.Equal(Dot(qi, xr), dots[i * scoreStride + r], Tolerance(d, DotMagnitude(qi, xr)));
                    Assert.Equal(SquaredL2(qi, xr), l2[i * scoreStride + r], Tolerance(d, SquaredL2(qi, xr)));
                    if (d % TileKernel.StrideMultiple == 0)
                    {
                        // Same lane order as the single-query kernel: batched and one-at-a-time search agree exactly.
                        Assert.Equal(DenseKernels.Dot(qi, xr), dots[i * scoreStride + r]);
                        Assert.Equal(DenseKernels.SquaredL2(qi, xr), l2[i * scoreStride + r]);
                    }
                }
            }
        }
    }

    private static ref Half Ref(Half[] a) => ref a.Length == 0 ? ref System.Runtime.CompilerServices.Unsafe.NullRef<Half>() : ref a[0];
}
