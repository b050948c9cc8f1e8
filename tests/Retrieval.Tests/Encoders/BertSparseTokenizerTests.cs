using Microsoft.ML.Tokenizers;
using Retrieval.Query.Encoders;

namespace Retrieval.Tests.Encoders;

public class BertSparseTokenizerTests
{
    private static string Pieces(string text)
    {
        var vocab = BertVocabulary.BertBaseUncased;
        return string.Join(" ", BertSparseTokenizer.BertBaseUncased.EncodeToIds(text).Select(vocab.Token));
    }

    // Expected pieces follow reference BERT's BasicTokenizer + WordPiece rules (clean text, lowercase, strip
    // accents, split on whitespace and on punctuation = P* plus all ASCII symbols, greedy longest-match pieces).
    [Theory]
    [InlineData("Hello, world! It's 3.5% (ok)", "hello , world ! it ' s 3 . 5 % ( ok )")]
    [InlineData("unaffable", "una ##ffa ##ble")]
    [InlineData("Café NAÏVE résumé", "cafe naive resume")]
    [InlineData("ÅNGSTRÖM Ærø İstanbul", "ang ##strom æ ##r ##ø istanbul")] // Æ, ø have no NFD decomposition
    [InlineData("cafe\u0301", "cafe")]                             // a combining mark is removed
    [InlineData("snake_case_name", "snake _ case _ name")]          // BertTokenizer alone: snake ##_ ##case ...
    [InlineData("a$b 1+1 x=y <html> a|b ~home ^up", "a $ b 1 + 1 x = y < html > a | b ~ home ^ up")] // alone: symbols dropped
    [InlineData("tab\there\r\nnew", "tab here new")]               // alone: "tab ##her ##ene ##w"
    [InlineData("soft\u00adhy\u200bphen", "soft ##hy ##ph ##en")]   // format characters removed, not split
    [InlineData("€5 x² p ≤ 0.05", "€ ##5 x ##² p ≤ 0 . 05")]         // symbols stay inside their word
    [InlineData("中文 text", "中 文 text")]                           // CJK characters split individually
    [InlineData("[SEP] is text", "[ sep ] is text")]               // special-token strings are not special here
    [InlineData("snow ☃", "snow [UNK]")]                           // an unknown word is [UNK], not dropped
    [InlineData("", "")]
    public void MatchesReferenceBertTokenization(string text, string expected) =>
        Assert.Equal(expected, Pieces(text));

    [Fact]
    public void AgreesWithPlainBertTokenizerWhereThatOneIsRight()
    {
        // On text without symbols, control characters or '_' the corrections must change nothing.
        using var vocab = BertVocabulary.OpenVocabStream();
        var plain = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true, RemoveNonSpacingMarks = true });
        string[] texts =
        [
            "Microstructural development of human newborn cerebral white matter assessed in vivo by diffusion tensor MRI.",
            "Alterations of the architecture (of cerebral white matter) in the developing human brain can affect cortical development.",
            "Qt's primary feature is its rich set of widgets; it's cross-platform — see www.qt.io, version 5.15.",
        ];
        foreach (var text in texts)
            Assert.Equal(plain.EncodeToIds(text, addSpecialTokens: false), BertSparseTokenizer.BertBaseUncased.EncodeToIds(text));
    }

    [Fact]
    public void IsSafeToShareAcrossThreads()
    {
        var texts = Enumerable.Range(0, 200).Select(i => $"document {i} about topic_{i % 7} costs ${i}.{i % 10} + tax").ToArray();
        var serial = texts.Select(t => BertSparseTokenizer.BertBaseUncased.EncodeToIds(t).ToArray()).ToArray();
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length, i => parallel[i] = BertSparseTokenizer.BertBaseUncased.EncodeToIds(texts[i]).ToArray());
        for (int i = 0; i < texts.Length; i++) Assert.Equal(serial[i], parallel[i]);
    }
}
