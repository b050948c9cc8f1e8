using System.Runtime.Intrinsics;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Tests.Kernels;

public class ElementDecoderTests
{
    [Fact]
    public void Float16DecodingEqualsTheRuntimeConversionForAllBitPatterns()
    {
        var halves = new Half[65536 + 16];
        for (int i = 0; i < 65536; i++) halves[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        for (int i = 0; i < 65536; i += 16)
        {
            var wide = Float16Decoder.Decode512(ref halves[i]);
            var narrow = Float16Decoder.Decode256(ref halves[i]);
            for (int lane = 0; lane < 16; lane++)
            {
                float expected = (float)halves[i + lane];
                AssertSameFloat(expected, wide[lane], i + lane);
                if (lane < 8) AssertSameFloat(expected, narrow[lane], i + lane);
                AssertSameFloat(expected, Float16Decoder.Decode(halves[i + lane]), i + lane);
            }
        }
    }

    [Fact]
    public void FiniteFloat16DecodingEqualsTheRuntimeConversionForAllFiniteBitPatterns()
    {
        var halves = new Half[65536];
        for (int i = 0; i < 65536; i++) halves[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        for (int i = 0; i < 65536; i += 16)
        {
            var wide = FiniteFloat16Decoder.Decode512(ref halves[i]);
            var narrow = FiniteFloat16Decoder.Decode256(ref halves[i]);
            for (int lane = 0; lane < 16; lane++)
            {
                if (!Half.IsFinite(halves[i + lane])) continue;
                AssertSameFloat((float)halves[i + lane], wide[lane], i + lane);
                if (lane < 8) AssertSameFloat((float)halves[i + lane], narrow[lane], i + lane);
            }
        }
    }

    [Fact]
    public void ByteDecodingIsExactForAllValues()
    {
        var bytes = new byte[256];
        var sbytes = new sbyte[256];
        for (int i = 0; i < 256; i++) { bytes[i] = (byte)i; sbytes[i] = (sbyte)(i - 128); }
        for (int i = 0; i < 256; i += 16)
        {
            Vector512<float> u = UInt8Decoder.Decode512(ref bytes[i]);
            Vector512<float> s = Int8Decoder.Decode512(ref sbytes[i]);
            Vector256<float> u8 = UInt8Decoder.Decode256(ref bytes[i]);
            Vector256<float> s8 = Int8Decoder.Decode256(ref sbytes[i]);
            for (int lane = 0; lane < 16; lane++)
            {
                Assert.Equal(bytes[i + lane], u[lane]);
                Assert.Equal(sbytes[i + lane], s[lane]);
                if (lane < 8)
                {
                    Assert.Equal(bytes[i + lane], u8[lane]);
                    Assert.Equal(sbytes[i + lane], s8[lane]);
                }
            }
        }
    }

    [Fact]
    public void RowDecoderZeroesThePadding()
    {
        var rng = new Random(3);
        foreach (int d in new[] { 1, 7, 8, 15, 16, 17, 33, 384 })
        {
            int stride = TileKernel.PaddedStride(d);
            var rows = KernelReference.RandomHalves(rng, 3 * d);
            var dst = new float[3 * stride];
            dst.AsSpan().Fill(float.NaN);
            RowDecoder.DecodeRows<Float16Decoder, Half>(ref rows[0], 3, d, ref dst[0], stride);
            for (int r = 0; r < 3; r++)
            {
                for (int i = 0; i < d; i++) Assert.Equal((float)rows[r * d + i], dst[r * stride + i]);
                for (int i = d; i < stride; i++) Assert.Equal(0f, dst[r * stride + i]);
            }
        }
    }

    private static void AssertSameFloat(float expected, float actual, int bits)
    {
        if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"half bits 0x{bits:X4}: expected NaN, got {actual}");
        else Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
            $"half bits 0x{bits:X4}: expected {expected}, got {actual}");
    }
}
