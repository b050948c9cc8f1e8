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
    public void LinesLongerThanTheReadBufferAndRepeatsSplitByOtherTokensAddUp()
    {
        // 60,000 repeats (240 KB) outgrow the reader's 64 KiB buffer; "b" repeats in two separate runs.
        var text = "q1\t" + string.Concat(Enumerable.Repeat("a ", 60_000)) + "b b c b\r\nq2\tc\n";
        var path = Write(_dir, "long.tsv", System.Text.Encoding.UTF8.GetBytes(text));
        var data = AnseriniTopicsFile.Read(path, new TermVocabulary(["a", "b", "c"]));
        Assert.Equal(new[] { "q1", "q2" }, data.Ids);
        Assert.Equal(new[] { 0, 1, 2 }, data.Vectors.Row(0).Indices.ToArray());
        Assert.Equal(new[] { 60_000f, 3f, 1f }, data.Vectors.Row(0).Values.ToArray());
        Assert.Equal(new[] { 1f }, data.Vectors.Row(1).Values.ToArray());
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
