using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Formats.FormatAssert;

namespace Retrieval.Tests.Formats;

public class SeismicJsonlTests
{
    private readonly string _dir = TestData.TempDirectory();
    private static readonly TermVocabulary Small = new(["[PAD]", "apple", "banana", "cherry", "date", "café"], "test vocab");

    private string Lines(string name, params string[] lines) =>
        Write(_dir, name, System.Text.Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));

    [Fact]
    public void FixtureReadsThroughTheBertVocabulary()
    {
        var vocab = BertVocabulary.BertBaseUncased;
        var data = SeismicJsonlFile.Read(TestData.Fixture("formats", "tiny.seismic.jsonl"), vocab);
        Assert.Equal(new[] { "0", "doc-b", "7" }, data.Ids);
        Assert.Equal(vocab.Count, data.Vectors.ColumnCount);

        var row0 = data.Vectors.Row(0);
        Assert.Equal(3, row0.NonZeroCount);
        Assert.True(row0.Indices[0] < row0.Indices[1] && row0.Indices[1] < row0.Indices[2]);
        vocab.TryGetId("cat", out int cat);
        Assert.Equal(1.5f, row0.Values[row0.Indices.IndexOf(cat)]);

        Assert.Equal(2, data.Vectors.Row(1).NonZeroCount);
        Assert.Equal(0, data.Vectors.Row(2).NonZeroCount);
        Assert.Equal(1, data.UnknownTokenCount);
        Assert.Equal(1, data.DistinctUnknownTokens);
        Assert.Equal(new[] { "zzzznotatoken" }, data.UnknownTokenSamples);
    }

    [Fact]
    public void WriteThenReadRoundTrips()
    {
        var vectors = new SparseMatrix(3, Small.Count, [0, 2, 2, 5], [1, 4, 1, 2, 3], [0.1f, 1e-7f, 3.25f, 123456.79f, 0.333333343f]);
        var path = Path.Combine(_dir, "rt.jsonl");
        SeismicJsonlFile.Write(path, new[] { "12", "q-7", "007" }, vectors, Small);
        var text = File.ReadAllText(path);
        Assert.StartsWith("{\"id\":12,", text);
        Assert.Contains("\"id\":\"007\"", text);
        var back = SeismicJsonlFile.Read(path, Small);
        Assert.Equal(new[] { "12", "q-7", "007" }, back.Ids);
        Assert.Equal(vectors.RowOffsets, back.Vectors.RowOffsets);
        Assert.Equal(vectors.Indices, back.Vectors.Indices);
        Assert.Equal(vectors.Values, back.Vectors.Values);
    }

    [Fact]
    public void RowsAreSortedByTermIdAndMaxRowsStops()
    {
        var path = Lines("s.jsonl", "{\"id\":1,\"vector\":{\"date\":4,\"apple\":1,\"cherry\":3}}", "{\"id\":2,\"vector\":{\"banana\":2}}");
        var data = SeismicJsonlFile.Read(path, Small, new SparseReadOptions { MaxRows = 1 });
        Assert.Single(data.Ids);
        Assert.Equal(new[] { 1, 3, 4 }, data.Vectors.Row(0).Indices.ToArray());
        Assert.Equal(new[] { 1f, 3f, 4f }, data.Vectors.Row(0).Values.ToArray());
    }

    [Fact]
    public void EscapedAndNonAsciiTokensResolve()
    {
        var path = Lines("esc.jsonl", "{\"id\":1,\"vector\":{\"\\u0061pple\":1,\"café\":2,\"caf\\u00e9s\":3}}");
        var data = SeismicJsonlFile.Read(path, Small);
        Assert.Equal(new[] { 1, 5 }, data.Vectors.Row(0).Indices.ToArray());
        Assert.Equal(new[] { "cafés" }, data.UnknownTokenSamples);
    }

    [Fact]
    public void DuplicateTokenInARowIsReported()
    {
        var path = Lines("dup.jsonl", "{\"id\":1,\"vector\":{\"apple\":1}}", "{\"id\":2,\"vector\":{\"banana\":2,\"cherry\":1,\"banana\":3}}");
        Fails(() => SeismicJsonlFile.Read(path, Small), path, row: 1, byteOffset: 30, "duplicate token 'banana'", "line 2");
    }

    [Fact]
    public void NegativeWeightIsReported()
    {
        var path = Lines("neg.jsonl", "{\"id\":1,\"vector\":{\"apple\":-0.5}}");
        Fails(() => SeismicJsonlFile.Read(path, Small), path, row: 0, byteOffset: null, "line 1", "'apple' is -0.5", "non-negative");
        Assert.Equal(-0.5f, SeismicJsonlFile.Read(path, Small, new SparseReadOptions { AllowNegativeWeights = true }).Vectors.Values[0]);
    }

    [Fact]
    public void WeightOutsideTheFloatRangeIsNonFinite()
    {
        var path = Lines("inf.jsonl", "{\"id\":1,\"vector\":{\"apple\":1e300}}");
        Fails(() => SeismicJsonlFile.Read(path, Small), path, row: 0, byteOffset: null, "outside the float32 range", "finite");
    }

    [Fact]
    public void MalformedJsonNamesTheLine()
    {
        var path = Lines("bad.jsonl", "{\"id\":1,\"vector\":{\"apple\":1}}", "", "{\"id\":2,\"vector\":{\"apple\":1,}}");
        var ex = Fails(() => SeismicJsonlFile.Read(path, Small), path, row: 1, byteOffset: null, "malformed JSON on line 3");
        Assert.True(ex.ByteOffset >= 32);
    }

    [Fact]
    public void NonNumericWeightIsReported()
    {
        var path = Lines("str.jsonl", "{\"id\":1,\"vector\":{\"apple\":\"high\"}}");
        Fails(() => SeismicJsonlFile.Read(path, Small), path, row: 0, byteOffset: 26, "'apple' must be a number", "String");
    }

    [Fact]
    public void MissingVectorOrIdIsReported()
    {
        var noVector = Lines("nv.jsonl", "{\"id\":1,\"content\":\"text only\"}");
        Fails(() => SeismicJsonlFile.Read(noVector, Small), noVector, row: 0, byteOffset: null, "no \"vector\"");
        var noId = Lines("ni.jsonl", "{\"vector\":{\"apple\":1}}");
        Fails(() => SeismicJsonlFile.Read(noId, Small), noId, row: 0, byteOffset: null, "no \"id\"");
    }

    [Fact]
    public void TwoObjectsOnOneLineAreReported()
    {
        var path = Lines("two.jsonl", "{\"id\":1,\"vector\":{}} {\"id\":2,\"vector\":{}}");
        Fails(() => SeismicJsonlFile.Read(path, Small), path, row: 0, byteOffset: null, "line 1");
    }

    [Fact]
    public void UnknownTokensAreCountedOrRejectedWhenStrict()
    {
        var path = Lines("u.jsonl", "{\"id\":1,\"vector\":{\"apple\":1,\"kiwi\":2}}", "{\"id\":2,\"vector\":{\"kiwi\":1,\"fig\":1}}");
        var data = SeismicJsonlFile.Read(path, Small);
        Assert.Equal(3, data.UnknownTokenCount);
        Assert.Equal(2, data.DistinctUnknownTokens);
        Assert.Equal(new[] { "kiwi", "fig" }, data.UnknownTokenSamples);
        Fails(() => SeismicJsonlFile.Read(path, Small, new SparseReadOptions { StrictVocabulary = true }), path, row: 0, byteOffset: 28, "'kiwi'", "not in the vocabulary test vocab");
    }

    [Fact]
    public void EmptyFileIsRejected()
    {
        var path = Write(_dir, "e.jsonl", []);
        Fails(() => SeismicJsonlFile.Read(path, Small), path, null, byteOffset: 0, "file is empty");
    }
}
