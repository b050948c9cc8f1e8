using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Seismic;
using Retrieval.Query.Encoders;
using Retrieval.Query.Indexes.Seismic;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

public class SeismicTextIndexTests
{
    private static readonly string[] Words =
        ["river", "bank", "money", "loan", "fish", "water", "stream", "credit", "account", "boat", "bridge", "city",
         "music", "piano", "violin", "orchestra", "library", "book", "paper", "ink", "printer", "kernel", "linux", "package"];

    private static (string[] Ids, string[] Texts) Corpus(int seed, int count)
    {
        var rng = new Random(seed);
        var ids = new string[count];
        var texts = new string[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = "p" + i;
            int n = rng.Next(3, 15);
            texts[i] = string.Join(' ', Enumerable.Range(0, n).Select(_ => Words[(int)(Words.Length * Math.Pow(rng.NextDouble(), 1.7))]));
        }
        return (ids, texts);
    }

    /// <summary>
    /// Through the text path, a lossless build searched exhaustively ranks like exact BM25 (the encoder's vectors in
    /// an exhaustive inverted index), with and without the sqrt(idf) split, and the saved index (with its corpus
    /// statistics) answers the same after reopening.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LosslessTextIndexMatchesExactBm25AndSurvivesReopen(bool idfSplit)
    {
        var (ids, texts) = Corpus(3, 400);
        var queryTexts = new[] { "river bank", "piano orchestra music", "linux kernel package", "unrelatedword", "", "book ink paper printer" };
        var index = SeismicTextIndex.Build(ids, texts, new SeismicTextOptions { IdfSplit = idfSplit, Build = SeismicBuildOptions.Lossless });

        var encoder = new SparseTextEncoder();
        var (docs, stats) = encoder.FitDocuments(texts);
        var exact = new ExactSparseIndex(docs).Search(encoder.EncodeQueries(queryTexts, stats), 10, threads: 1);
        var seismic = index.Search(queryTexts, 10, SeismicSearchParameters.Exhaustive, threads: 1);
        // Scores are the same BM25 values (the split only moves sqrt(idf) between the two sides).
        SeismicExactnessTests.AssertSameTopK(exact, seismic);
        Assert.All(seismic.Ids.AsSpan(3 * 10, 20).ToArray(), id => Assert.Equal(-1, id)); // no known term, empty query

        var dir = Path.Combine(TestData.TempDirectory(), "text");
        index.Save(dir);
        Assert.True(SeismicTextIndex.IsTextIndex(dir));
        var reopened = SeismicTextIndex.Open(dir);
        Assert.Equal(idfSplit, reopened.Options.IdfSplit);
        Assert.Equal(ids, reopened.Index.DocumentIds);
        var again = reopened.Search(queryTexts, 10, SeismicSearchParameters.Exhaustive, threads: 1);
        Assert.Equal(seismic.Ids, again.Ids);
        Assert.Equal(seismic.Scores, again.Scores);
    }

    [Fact]
    public void CorruptStatisticsFileIsNamed()
    {
        var (ids, texts) = Corpus(4, 50);
        var dir = Path.Combine(TestData.TempDirectory(), "text");
        SeismicTextIndex.Build(ids, texts).Save(dir);
        var path = Path.Combine(dir, SeismicTextIndex.StatisticsFile);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 1;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<DataFormatException>(() => SeismicTextIndex.Open(dir));
        Assert.Contains(SeismicTextIndex.StatisticsFile, e.Message);
        Assert.Equal(ErrorKind.Corrupt, e.Kind);
    }
}
