using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>
/// Turns one float32 row into its stored posting form (see <see cref="PostingLayout"/>): the element bytes,
/// the per-row factor (cosine: 1/|stored x|; int8: the scale) and, for int8 under L2, |dequantised x|^2.
/// int8 is symmetric per vector: q = round(x / s), s = max|x| / 127 (under cosine x is normalised first).
/// </summary>
internal readonly struct PostingRowEncoder(PostingLayout layout, Metric metric)
{
    public void Encode(ReadOnlySpan<float> row, Span<float> work, Span<byte> stored, out float factor, out float squaredNorm)
    {
        factor = 0;
        squaredNorm = 0;
        switch (layout.Storage)
        {
            case SpannStorage.Float32:
                {
                    var dst = MemoryMarshal.Cast<byte, float>(stored);
                    row.CopyTo(dst);
                    if (metric == Metric.Cosine) factor = DenseKernels.InverseNorm(DenseKernels.SquaredNorm(dst));
                    break;
                }
            case SpannStorage.Float16:
                {
                    var dst = MemoryMarshal.Cast<byte, Half>(stored);
                    TensorPrimitives.ConvertToHalf(row, dst);
                    if (metric == Metric.Cosine) factor = DenseKernels.InverseNorm(DenseKernels.SquaredNorm((ReadOnlySpan<Half>)dst));
                    break;
                }
            default:
                {
                    var source = row;
                    if (metric == Metric.Cosine)
                    {
                        float inv = DenseKernels.InverseNorm(DenseKernels.SquaredNorm(row));
                        TensorPrimitives.Multiply(row, inv, work);
                        source = work;
                    }
                    float max = source.IsEmpty ? 0 : TensorPrimitives.MaxMagnitude(source);
                    float scale = max > 0 ? max / 127f : 0f;
                    var dst = MemoryMarshal.Cast<byte, sbyte>(stored);
                    float norm = 0;
                    for (int i = 0; i < source.Length; i++)
                    {
                        int q = scale > 0 ? (int)MathF.Round(source[i] / scale) : 0;
                        q = Math.Clamp(q, -127, 127);
                        dst[i] = (sbyte)q;
                        norm += (float)q * q;
                    }
                    factor = scale;
                    squaredNorm = norm * scale * scale;
                    break;
                }
        }
    }
}
