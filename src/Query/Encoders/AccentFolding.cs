using System.Globalization;
using System.Text;

namespace Retrieval.Query.Encoders;

/// <summary>
/// BERT's accent stripping (NFD, then drop non-spacing marks) without ICU. The repo builds with
/// <c>InvariantGlobalization</c>, where <c>string.Normalize(FormD)</c> returns its input unchanged, so
/// BertTokenizer's <c>RemoveNonSpacingMarks</c> would leave "café" whole and WordPiece would give [UNK].
/// The decompositions come from a table generated once from ICU (AccentFolding.Table.g.cs); Hangul syllables
/// decompose by the Unicode algorithm.
/// </summary>
/// <remarks>
/// Regenerate the table with a console program built with <c>InvariantGlobalization=false</c> that, for each BMP
/// code point c (skipping surrogates, Hangul syllables, Mn characters and code points Normalize rejects), writes
/// c and NFD(c) minus its Mn characters wherever that differs from c.
/// </remarks>
internal static partial class AccentFolding
{
    private const int HangulBase = 0xAC00, HangulCount = 11172, LeadBase = 0x1100, VowelBase = 0x1161, TailBase = 0x11A7;
    private const int VowelCount = 21, TailCount = 28;

    /// <summary>True when <paramref name="c"/> would be changed or removed by <see cref="Append"/>.</summary>
    public static bool Changes(char c)
    {
        if (c < 0xC0) return false;
        if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark) return true;
        if (c >= HangulBase && c < HangulBase + HangulCount) return true;
        return FoldedChars.BinarySearch((ushort)c) >= 0;
    }

    /// <summary>Appends the folded form of <paramref name="c"/>: nothing for a mark, its base letters otherwise.</summary>
    public static void Append(StringBuilder output, char c)
    {
        if (c < 0xC0) { output.Append(c); return; }
        if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark) return;
        int s = c - HangulBase;
        if (s >= 0 && s < HangulCount)
        {
            output.Append((char)(LeadBase + s / (VowelCount * TailCount)));
            output.Append((char)(VowelBase + s % (VowelCount * TailCount) / TailCount));
            if (s % TailCount != 0) output.Append((char)(TailBase + s % TailCount));
            return;
        }
        int i = FoldedChars.BinarySearch((ushort)c);
        if (i < 0) { output.Append(c); return; }
        output.Append(Replacements.AsSpan(ReplacementStarts[i], ReplacementStarts[i + 1] - ReplacementStarts[i]));
    }
}
