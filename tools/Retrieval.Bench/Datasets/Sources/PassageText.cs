using System.Text;

namespace Retrieval.Bench.Datasets.Sources;

/// <summary>The text normalisation every passage source shares: whitespace collapsing, word counts, the length cap.</summary>
public static class PassageText
{
    /// <summary>Passages are cut to at most this many characters (Unicode scalar values).</summary>
    public const int MaxCharacters = 512;

    /// <summary>
    /// Runs of whitespace become one space, ends trimmed. Whitespace is Unicode White_Space plus the ASCII
    /// separators 0x1C-0x1F, the set Python's str.split() uses, which the shared copy was made with
    /// (Debian descriptions hold U+200A hair spaces, for one).
    /// </summary>
    public static string CollapseWhitespace(ReadOnlySpan<char> text)
    {
        var builder = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (var c in text)
        {
            if (IsSpace(c))
            {
                pendingSpace = builder.Length > 0;
                continue;
            }
            if (pendingSpace)
            {
                builder.Append(' ');
                pendingSpace = false;
            }
            builder.Append(c);
        }
        return builder.ToString();
    }

    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    /// <summary>Number of space-separated words of an already collapsed text.</summary>
    public static int WordCount(string collapsed)
    {
        if (collapsed.Length == 0) return 0;
        int words = 1;
        foreach (var c in collapsed)
        {
            if (c == ' ') words++;
        }
        return words;
    }

    /// <summary>
    /// Texts longer than <paramref name="maxCharacters"/> scalar values are cut there and then back to the last
    /// space (when there is one after the first character), so no word is split.
    /// </summary>
    public static string Cap(string text, int maxCharacters = MaxCharacters)
    {
        if (text.Length <= maxCharacters) return text; // UTF-16 length >= scalar count: short texts are done
        int scalars = 0, cut = -1;
        for (int i = 0; i < text.Length; i++)
        {
            if (scalars == maxCharacters)
            {
                cut = i;
                break;
            }
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            scalars++;
        }
        if (cut < 0) return text;
        var head = text[..cut];
        int space = head.LastIndexOf(' ');
        return space > 0 ? head[..space] : head;
    }

    /// <summary>Length in Unicode scalar values (what "characters" means for the filters).</summary>
    public static int CharacterCount(string text)
    {
        int count = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            count++;
        }
        return count;
    }
}
