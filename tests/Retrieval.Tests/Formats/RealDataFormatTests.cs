using System.Numerics.Tensors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Formats;

/// <summary>
/// The readers against the real files under ../shared/datasets (skipped with a reason when absent). Besides
/// shapes, each test checks something only a correct parse gives: a ground-truth neighbour recomputed from
/// the vectors, or every token of a real file resolving in the vocabulary.
/// </summary>
public class RealDataFormatTests
{
    private const string FashionMnistDir = "/usr/share/datasets/fashion-mnist";

    [SkippableFact]
    public void MinilmPassagesBaseHeaderIsFloat16()
    {
        var dir = TestData.SharedDataset("minilm-passages");
        var info = DenseVectorFile.ReadHeader(Path.Combine(dir, "base.npy"));
        Assert.Equal((MatrixFileFormat.Npy, ElementType.Float16, 160_000L, 384, 128L), (info.Format, info.ElementType, info.Count, info.Dimension, info.DataOffset));
    }

    [SkippableFact]
    public void MinilmPassagesQueriesAndGroundTruthRead()
    {
        var dir = TestData.SharedDataset("minilm-passages");
        var queries = DenseVectorFile.Read(Path.Combine(dir, "queries.npy"));
        Assert.Equal((ElementType.Float16, 10_000, 384), (queries.ElementType, queries.Count, queries.Dimension));
        // The vectors are L2-normalised (float16 rounding aside).
        var row = new float[384];
        queries.CopyRowTo(1234, row);
        Assert.InRange(TensorPrimitives.Norm(row), 0.99f, 1.01f);

        var gt = IntMatrixFile.Read(Path.Combine(dir, "groundtruth.ivecs"));
        Assert.Equal((10_000, 100), (gt.Rows, gt.Columns));
        Assert.InRange(gt.Data.AsSpan().IndexOfAnyExceptInRange(0, 159_999), -1, -1);
    }

    [SkippableFact]
    public void MinilmPassagesBaseStreamsToTheGroundTruthNeighbour()
    {
        // Stream the first 40,000 base rows in chunks and find query 0's best match by inner product among them;
        // the shipped ground truth's first id below 40,000 must score the same.
        var dir = TestData.SharedDataset("minilm-passages");
        var query = new float[384];
        DenseVectorFile.Read(Path.Combine(dir, "queries.npy"), new DenseReadOptions { MaxRows = 1 }).CopyRowTo(0, query);
        var gt = IntMatrixFile.Read(Path.Combine(dir, "groundtruth.ivecs"), maxRows: 1);
        const int limit = 40_000;
        var scores = new float[limit];
        var decoded = new float[384];
        using (var reader = DenseVectorFile.OpenReader(Path.Combine(dir, "base.npy"), chunkRows: 8192, new DenseReadOptions { MaxRows = limit }))
        {
            while (reader.ReadChunk() is { } chunk)
            {
                long first = reader.RowsRead - chunk.Count;
                for (int i = 0; i < chunk.Count; i++)
                {
                    TensorPrimitives.ConvertToSingle(chunk.Float16Row(i), decoded);
                    scores[first + i] = TensorPrimitives.Dot(decoded, query);
                }
            }
        }
        int best = TensorPrimitives.IndexOfMax(scores);
        int expected = -1;
        foreach (var id in gt.Row(0))
        {
            if (id < limit) { expected = id; break; }
        }
        Skip.If(expected < 0, "query 0 has no ground-truth neighbour among the first 40,000 rows");
        Assert.Equal(scores[expected], scores[best], 1e-5f);
    }

    [SkippableFact]
    public void Bigann10kNpyFilesReadAndEachQueryIsItsOwnFirstNeighbour()
    {
        var dir = TestData.SharedDataset("bigann10k");
        var baseVectors = DenseVectorFile.Read(Path.Combine(dir, "base.u8.npy"));
        var queries = DenseVectorFile.Read(Path.Combine(dir, "queries.u8.npy"));
        var gt = IntMatrixFile.Read(Path.Combine(dir, "groundtruth.i32.npy"));
        Assert.Equal((ElementType.UInt8, 10_000, 128), (baseVectors.ElementType, baseVectors.Count, baseVectors.Dimension));
        Assert.Equal((100, 128), (queries.Count, queries.Dimension));
        Assert.Equal((100, 100), (gt.Rows, gt.Columns));
        // The manifest says each query is a copy of a base vector, so its first neighbour is itself.
        for (int q = 0; q < queries.Count; q++)
            Assert.True(queries.UInt8Row(q).SequenceEqual(baseVectors.UInt8Row(gt.Row(q)[0])), $"query {q}");
    }

    [SkippableFact]
    public void KvMinilmKeysAndKthScoresRead()
    {
        var dir = TestData.SharedDataset("kv-minilm");
        var info = DenseVectorFile.ReadHeader(Path.Combine(dir, "L0H11.k.npy"));
        Assert.Equal((ElementType.Float16, 131_072L, 32), (info.ElementType, info.Count, info.Dimension));
        var keys = DenseVectorFile.Read(Path.Combine(dir, "L0H11.k.npy"));
        Assert.Equal(131_072, keys.Count);
        var kth = FloatMatrixFile.Read(Path.Combine(dir, "L0H11.gt100_kth.npy"));
        Assert.Equal((1000, 1), (kth.Rows, kth.Columns));
        var gt = IntMatrixFile.Read(Path.Combine(dir, "L0H11.gt100.npy"));
        Assert.Equal((1000, 100), (gt.Rows, gt.Columns));
        Assert.InRange(gt.Data.AsSpan().IndexOfAnyExceptInRange(0, 119_999), -1, -1);
    }

    [SkippableFact]
    public void SeismicToyReadsWithEveryTokenKnown()
    {
        var dir = TestData.SharedDataset("seismic-toy");
        var vocab = BertVocabulary.BertBaseUncased;
        var docs = SeismicJsonlFile.Read(Path.Combine(dir, "documents.jsonl"), vocab, new SparseReadOptions { StrictVocabulary = true });
        Assert.Equal(20, docs.Count);
        Assert.Equal(0, docs.UnknownTokenCount);
        Assert.Equal("0", docs.Ids[0]);
        Assert.True(docs.Vectors.NonZeroCount > 20 * 10);
        for (int r = 0; r < docs.Count; r++)
        {
            var row = docs.Vectors.Row(r);
            for (int j = 1; j < row.NonZeroCount; j++) Assert.True(row.Indices[j] > row.Indices[j - 1]);
        }
        var queries = SeismicJsonlFile.Read(Path.Combine(dir, "queries.jsonl"), vocab);
        Assert.Equal(5, queries.Count);
        Assert.Equal("1048585", queries.Ids[0]);
        Assert.Equal(0, queries.UnknownTokenCount);
    }

    [SkippableFact]
    public void ScifactSpladeQueriesReadAsAnseriniTopics()
    {
        var dir = TestData.SharedDataset("scifact");
        var data = AnseriniTopicsFile.Read(Path.Combine(dir, "queries.splade-pp-ed.tsv.gz"), BertVocabulary.BertBaseUncased);
        Assert.Equal(300, data.Count);
        Assert.Equal("1", data.Ids[0]);
        Assert.Equal(0, data.UnknownTokenCount);
        // Weights are repeat counts: whole numbers >= 1.
        foreach (var w in data.Vectors.Values) Assert.True(w >= 1 && w == MathF.Round(w));
    }

    [SkippableFact]
    public void SpladeQueryTopicsRead()
    {
        var dir = TestData.SharedDataset("splade-queries");
        var data = AnseriniTopicsFile.Read(Path.Combine(dir, "topics.msmarco-passage.dev-subset.splade-v3.tsv.gz"), BertVocabulary.BertBaseUncased);
        Assert.Equal(6980, data.Count);
        Assert.Equal(BertVocabulary.BertBaseUncasedSize, data.Vectors.ColumnCount);
        Assert.Equal(0, data.UnknownTokenCount);
        Assert.True(data.Vectors.NonZeroCount > 6980 * 5);
    }

    [SkippableFact]
    public void FashionMnistIdxReadsAndMatchesItsGroundTruth()
    {
        Skip.IfNot(Directory.Exists(FashionMnistDir), $"{FashionMnistDir} not present (apt-get install dataset-fashion-mnist)");
        var train = DenseVectorFile.Read(Path.Combine(FashionMnistDir, "train-images-idx3-ubyte.gz"));
        Assert.Equal((ElementType.UInt8, 60_000, 784), (train.ElementType, train.Count, train.Dimension));
        var test = DenseVectorFile.Read(Path.Combine(FashionMnistDir, "t10k-images-idx3-ubyte.gz"), new DenseReadOptions { MaxRows = 3 });
        Assert.Equal(3, test.Count);
        Assert.Equal(10_000, DenseVectorFile.ReadHeader(Path.Combine(FashionMnistDir, "t10k-images-idx3-ubyte.gz")).Count);

        var gtDir = TestData.SharedDataset("fashion-mnist");
        var gt = IntMatrixFile.Read(Path.Combine(gtDir, "groundtruth.ivecs"), maxRows: 2);
        // Exact nearest neighbour by squared L2 for the first test images must be the ground truth's first id
        // (or tie with it): only a correctly aligned parse of both IDX files gives that.
        var q = new float[784];
        var x = new float[784];
        for (int i = 0; i < 2; i++)
        {
            test.CopyRowTo(i, q);
            float best = float.MaxValue;
            for (int r = 0; r < train.Count; r++)
            {
                TensorPrimitives.ConvertTruncating<byte, float>(train.UInt8Row(r), x);
                best = Math.Min(best, TensorPrimitives.Distance(q, x));
            }
            train.CopyRowTo(gt.Row(i)[0], x);
            Assert.Equal(best, TensorPrimitives.Distance(q, x));
        }
    }
}
