using Retrieval.Query.Encoders;

namespace Retrieval.Tests.Search;

public class VocabularyTests
{
    [Fact]
    public void BertBaseUncasedVocabularyShipsWithThePackage()
    {
        var vocab = BertVocabulary.BertBaseUncased;
        Assert.Equal(BertVocabulary.BertBaseUncasedSize, vocab.Count);
        Assert.Equal("[PAD]", vocab.Token(0));
        Assert.True(vocab.TryGetId("[CLS]", out var cls));
        Assert.Equal(101, cls);
        Assert.True(vocab.TryGetId("the", out var the));
        Assert.Equal(1996, the);
    }
}
