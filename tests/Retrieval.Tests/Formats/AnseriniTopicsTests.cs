using Retrieval.Index.Formats;
using Retrieval.Query.Encoders;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Formats.FormatAssert;

namespace Retrieval.Tests.Formats;

public class AnseriniTopicsTests
{
    private readonly string _dir = TestData.TempDirectory();

    [Fact]
    public void RepeatCountsBecomeWeights()
    {
        var vocab = BertVocabulary.BertBaseUncased;
        var data = AnseriniTopicsFile.Read(TestData.Fixture("formats", "tiny-topics.tsv.gz"), vocab);
        Assert.Equal(new[] { "q1", "q2", "q3" }, data.Ids);
        vocab.TryGetId("cat", out int cat);
        vocab.TryGetId("the", out int the);
        vocab.TryGetId("dog", out int dog);
        vocab.TryGetId("##s", out int s);
        var q1 = data.Vectors.Row(0);
        int[] expected = [cat, the, dog];
        Array.Sort(expected);
        Assert.Equal(expected, q1.Indices.ToArray());
        Assert.Equal(3f, q1.Values[q1.Indices.IndexOf(cat)]);
        Assert.Equal(1f, q1.Values[q1.Indices.IndexOf(dog)]);
        var q2 = data.Vectors.Row(1);
        Assert.Equal(2f, q2.Values[q2.Indices.IndexOf(s)]);
        Assert.Equal(0, data.Vectors.Row(2).NonZeroCount);
        Assert.Equal(2, data.UnknownTokenCount);
        Assert.Equal(1, data.DistinctUnknownTokens);
    }

    [Fact]
    public void LineWithoutATabIsReported()
    {
        var path = Write(_dir, "t.tsv", "q1\tapple apple\nq2 apple\n"u8.ToArray());
        var vocab = new TermVocabulary(["apple"]);
        Fails(() => AnseriniTopicsFile.Read(path, vocab), path, row: 1, byteOffset: 15, "line 2 has no tab");
    }

    [Fact]
    public void StrictVocabularyRejectsUnknownTokens()
    {
        var path = Write(_dir, "s.tsv", "q1\tapple pear\n"u8.ToArray());
        var vocab = new TermVocabulary(["apple"], "fruit vocab");
        Fails(() => AnseriniTopicsFile.Read(path, vocab, new SparseReadOptions { StrictVocabulary = true }), path, row: 0, byteOffset: 0, "'pear'", "fruit vocab");
    }

    [Fact]
    public void EmptyFileIsRejected()
    {
        var path = Write(_dir, "e.tsv", []);
        Fails(() => AnseriniTopicsFile.Read(path, new TermVocabulary(["a"])), path, null, byteOffset: 0, "file is empty");
    }
}
