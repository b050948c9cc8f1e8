using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Retrieval.Query.Encoders;

/// <summary>
/// Text -> bert-base-uncased WordPiece ids, matching reference BERT (google-research/bert, HF BertTokenizer)
/// uncased tokenization: used for the sparse (BM25 / inference-free) vectors and as MiniLM's default
/// tokenization. Built on Microsoft.ML.Tokenizers <see cref="BertTokenizer"/> (lowercase, accents removed with
/// <c>RemoveNonSpacingMarks</c>) with three corrections measured against the reference:
/// <list type="number">
/// <item>the text is cleaned first as BERT's <c>_clean_text</c> does: tab, CR, LF and Unicode space separators
/// become spaces, other control/format characters (soft hyphen, zero-width space) are removed. Left to
/// BertTokenizer, "tab\there" came out as one word ("tab ##her ##e").</item>
/// <item>words are split by <see cref="ReferenceBertPreTokenizer"/>, so <c>$ + &lt; = &gt; ^ ` | ~ _</c> become
/// tokens and symbols such as € ° ± stay in their word instead of being dropped.</item>
/// <item>accents are stripped by <see cref="AccentFolding"/>: under the repo's InvariantGlobalization,
/// BertTokenizer's own NFD step does nothing and "café" became [UNK].</item>
/// </list>
/// Special-token strings in the text ("[SEP]") are ordinary text, as in the original BERT. Thread-safe.
/// </summary>
public sealed class BertSparseTokenizer
{
    private static readonly Lazy<BertSparseTokenizer> Shared = new(() => new BertSparseTokenizer());

    private readonly BertTokenizer _tokenizer;

    private BertSparseTokenizer()
    {
        using var vocab = BertVocabulary.OpenVocabStream();
        _tokenizer = BertTokenizer.Create(vocab, new BertOptions
        {
            LowerCaseBeforeTokenization = true,
            RemoveNonSpacingMarks = true,
            SplitOnSpecialTokens = false,
            PreTokenizer = ReferenceBertPreTokenizer.Instance,
        });
        ClsId = _tokenizer.ClassificationTokenId;
        SepId = _tokenizer.SeparatorTokenId;
        PadId = _tokenizer.PaddingTokenId;
        UnknownId = _tokenizer.UnknownTokenId;
    }

    /// <summary>The bert-base-uncased tokenizer (vocabulary from <see cref="BertVocabulary"/>), built once.</summary>
    public static BertSparseTokenizer BertBaseUncased => Shared.Value;

    public int VocabularySize => BertVocabulary.BertBaseUncasedSize;
    public int ClsId { get; }
    public int SepId { get; }
    public int PadId { get; }
    public int UnknownId { get; }

    /// <summary>WordPiece ids of <paramref name="text"/>, without [CLS]/[SEP]; unknown words give [UNK].</summary>
    public IReadOnlyList<int> EncodeToIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _tokenizer.EncodeToIds(CleanText(text), addSpecialTokens: false);
    }

    /// <summary>
    /// BERT's <c>_clean_text</c> and accent stripping: whitespace (space, tab, CR, LF, category Zs) -> ' ';
    /// NUL, U+FFFD and other control (Cc) or format (Cf) characters removed; accented letters folded to their
    /// base letters and combining marks removed (<see cref="AccentFolding"/>). Returns the input itself when
    /// nothing changes (the common case for English text).
    /// </summary>
    internal static string CleanText(string text)
    {
        int i = 0;
        for (; i < text.Length; i++)
        {
            if (Classify(text[i]) != CharAction.Keep) break;
        }
        if (i == text.Length) return text;
        var output = new StringBuilder(text.Length);
        output.Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            char c = text[i];
            switch (Classify(c))
            {
                case CharAction.Keep: output.Append(c); break;
                case CharAction.Space: output.Append(' '); break;
                case CharAction.Fold: AccentFolding.Append(output, c); break;
            }
        }
        return output.ToString();
    }

    private enum CharAction { Keep, Space, Drop, Fold }

    private static CharAction Classify(char c)
    {
        if (c >= ' ' && c < 127) return CharAction.Keep;
        if (c == '\t' || c == '\n' || c == '\r') return CharAction.Space;
        if (c == '\0' || c == '\uFFFD') return CharAction.Drop;
        var category = char.GetUnicodeCategory(c);
        if (category == UnicodeCategory.SpaceSeparator) return CharAction.Space;
        if (category is UnicodeCategory.Control or UnicodeCategory.Format) return CharAction.Drop;
        return AccentFolding.Changes(c) ? CharAction.Fold : CharAction.Keep;
    }
}
