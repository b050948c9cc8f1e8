using System.Numerics.Tensors;
using Retrieval.Bench.Corpora;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Encoders;

public class MiniLmEncoderTests
{
    [Fact]
    public void VectorsAreNormalisedOrderedAndIndependentOfBatching()
    {
        string[] texts =
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The new movie is awesome and everyone in the cinema enjoyed every minute of it, the critics too.",
            "Stock markets fell sharply today.",
            "x",
        ];
        using var batched = new MiniLmEncoder(new MiniLmOptions { BatchSize = 4 });
        using var single = new MiniLmEncoder(new MiniLmOptions { BatchSize = 1 });
        var a = batched.Encode(texts);
        var b = single.Encode(texts);
        Assert.Equal(texts.Length, a.Count);
        Assert.Equal(MiniLmEncoder.Dimension, a.Dimension);
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(1f, TensorPrimitives.Norm(a.Float32Row(i)), 4);
            // Padding inside a batch must not change a text's vector.
            Assert.True(TensorPrimitives.CosineSimilarity(a.Float32Row(i), b.Float32Row(i)) > 0.9999f, $"text {i}");
        }
        float related = TensorPrimitives.Dot(a.Float32Row(0), a.Float32Row(1));
        float unrelated = TensorPrimitives.Dot(a.Float32Row(0), a.Float32Row(3));
        Assert.True(related > unrelated + 0.2f, $"related {related}, unrelated {unrelated}");
    }

    [Fact]
    public void LongTextsAreTruncatedToMaxTokens()
    {
        using var encoder = new MiniLmEncoder(new MiniLmOptions { MaxTokens = 16 });
        var ids = encoder.TokenIds(string.Join(" ", Enumerable.Repeat("word", 100)));
        Assert.Equal(16, ids.Length);
        Assert.Equal(BertSparseTokenizer.BertBaseUncased.ClsId, ids[0]);
        Assert.Equal(BertSparseTokenizer.BertBaseUncased.SepId, ids[^1]);
        var v = encoder.Encode([string.Join(" ", Enumerable.Repeat("word", 2000))]);
        Assert.Equal(1f, TensorPrimitives.Norm(v.Float32Row(0)), 4);
    }

    [Fact]
    public void ProgressReachesTheTextCount()
    {
        using var encoder = new MiniLmEncoder(new MiniLmOptions { BatchSize = 2 });
        var seen = new List<long>();
        encoder.Encode(["one", "two", "three", "four", "five"], new InlineProgress(seen.Add));
        Assert.Equal([2L, 4L, 5L], seen);
    }

    /// <summary>
    /// The shared minilm-passages base vectors were made with the package's SentenceEncoder; with the package
    /// tokenization this encoder must reproduce them (stored float16, so cosine, not equality).
    /// </summary>
    [SkippableFact]
    public void PackageTokenizationReproducesSharedPassageVectors()
    {
        const int rows = 20;
        var passages = FirstPassages(rows);
        var storedHalf = DenseVectorFile.Read(Path.Combine(TestData.SharedDataset("minilm-passages"), "base.npy"),
            new DenseReadOptions { MaxRows = rows });
        Assert.Equal(ElementType.Float16, storedHalf.ElementType);
        Assert.Equal(384, storedHalf.Dimension);
        var stored = ToArray(storedHalf);
        using var encoder = new MiniLmEncoder(new MiniLmOptions { Tokenization = MiniLmTokenization.Package });
        var encoded = encoder.Encode(passages);
        using var reference = new MiniLmEncoder();
        var referenceVectors = reference.Encode(passages);
        int sameTokens = 0;
        for (int i = 0; i < rows; i++)
        {
            float cosine = TensorPrimitives.CosineSimilarity(encoded.Float32Row(i), stored.AsSpan(i * 384, 384));
            Assert.True(cosine > 0.999f, $"passage {i}: cosine {cosine}");
            // Reference-BERT tokenization gives the same vector wherever both tokenizers agree on the ids.
            if (encoder.TokenIds(passages[i]).AsSpan().SequenceEqual(reference.TokenIds(passages[i])))
            {
                sameTokens++;
                Assert.True(TensorPrimitives.CosineSimilarity(referenceVectors.Float32Row(i), stored.AsSpan(i * 384, 384)) > 0.999f);
            }
        }
        Assert.True(sameTokens >= 5, $"only {sameTokens} of {rows} passages tokenize alike");
    }

    private static string[] FirstPassages(int count)
    {
        var path = Path.Combine(TestData.SharedDataset("passages"), "passages.tsv.gz");
        return TsvTextFile.Enumerate(path).Take(count).Select(r => r.Text).ToArray();
    }

    private static float[] ToArray(DenseVectors vectors)
    {
        var result = new float[vectors.Count * vectors.Dimension];
        for (int i = 0; i < vectors.Count; i++) vectors.CopyRowTo(i, result.AsSpan(i * vectors.Dimension, vectors.Dimension));
        return result;
    }

    private sealed class InlineProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
