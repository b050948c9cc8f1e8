using System.Globalization;
using Microsoft.ML.Tokenizers;

namespace Retrieval.Query.Encoders;

/// <summary>
/// Splits text into words the way reference BERT's BasicTokenizer does: on whitespace, and every punctuation
/// character becomes a word of its own. Punctuation is Unicode category P* plus every ASCII non-alphanumeric
/// printable character, so <c>$ + &lt; = &gt; ^ ` | ~</c> (categories S*) split words too. Other symbols
/// (€, °, ², emoji) stay inside their word, where WordPiece maps them to a vocabulary piece or [UNK].
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers' default BERT pre-tokenizer matches only word characters and P* punctuation, so it
/// silently drops every S* character (<c>$ + &lt; = &gt; ^ ` | ~ € ° ±</c>...) and keeps <c>_</c> inside words;
/// plugging this splitter into <c>BertOptions.PreTokenizer</c> restores the reference behaviour.
/// </remarks>
internal sealed class ReferenceBertPreTokenizer : PreTokenizer
{
    public static readonly ReferenceBertPreTokenizer Instance = new();

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Split(text.AsSpan());

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text);

    internal static bool IsPunctuation(char c)
    {
        if (c < 128)
            return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
        return char.GetUnicodeCategory(c) is >= UnicodeCategory.ConnectorPunctuation and <= UnicodeCategory.OtherPunctuation;
    }

    private static List<(int Offset, int Length)> Split(ReadOnlySpan<char> text)
    {
        var words = new List<(int, int)>(text.Length / 5 + 1);
        int start = -1;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == ' ' || char.IsWhiteSpace(c))
            {
                if (start >= 0) { words.Add((start, i - start)); start = -1; }
            }
            else if (IsPunctuation(c))
            {
                if (start >= 0) { words.Add((start, i - start)); start = -1; }
                words.Add((i, 1));
            }
            else if (start < 0)
            {
                start = i;
            }
        }
        if (start >= 0) words.Add((start, text.Length - start));
        return words;
    }
}
