using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets.Sources;

/// <summary>
/// GCIDE (the Collaborative International Dictionary of English) paragraphs from the dictd files of the Debian
/// package dict-gcide: gcide.index (<c>headword TAB offset TAB length</c>, numbers in dictd's base64) and
/// gcide.dict.dz (dictzip, which is gzip). Entries are read in offset order, each entry once however many
/// headwords point at it; text between entries (stray attributions) is not part of any entry and is skipped.
/// A paragraph is a run of lines up to a blank (or whitespace-only) line; source tags such as
/// "[1913 Webster]" or "[WordNet 1.5 +PJC]" are removed and whitespace collapsed. Paragraphs of at least three
/// words are numbered from 0 in that order: the number is the id (gcide:&lt;n&gt;), and these rules reproduce
/// the ids of ../shared/datasets/passages. The dictd metadata entries (00-database-*) are numbered but not returned.
/// </summary>
public static partial class GcideParagraphs
{
    public const string IndexFile = "gcide.index";
    public const string DictFile = "gcide.dict.dz";

    [GeneratedRegex(@"\n[ \t]*\n")]
    private static partial Regex ParagraphBreak();

    // The tag may start at an earlier '[' on the same logical run (one entry has "[ritten katter, ... [1913 Webster]"),
    // which matches how the shared copy was cut.
    [GeneratedRegex(@"\[[^\]]*(?:Webster|WordNet|PJC|Century|Source)[^\]]*\]")]
    private static partial Regex SourceTag();

    /// <summary>Reads gcide.index and gcide.dict.dz from <paramref name="dictdDirectory"/>.</summary>
    public static IEnumerable<Passage> Read(string dictdDirectory)
    {
        var indexPath = Path.Combine(dictdDirectory, IndexFile);
        var dictPath = Path.Combine(dictdDirectory, DictFile);
        foreach (var path in new[] { indexPath, dictPath })
        {
            if (!File.Exists(path))
                throw new RetrievalException(ErrorKind.NotFound, $"GCIDE file missing: {path} (from the Debian package dict-gcide)");
        }
        byte[] dict;
        using (var file = File.OpenRead(dictPath))
        using (var gzip = new GZipStream(file, CompressionMode.Decompress))
        using (var buffer = new MemoryStream())
        {
            try
            {
                gzip.CopyTo(buffer);
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException(dictPath, $"not a readable dictzip/gzip file: {e.Message}", inner: e);
            }
            dict = buffer.ToArray();
        }
        return FromIndex(File.ReadLines(indexPath), dict, indexPath);
    }

    /// <summary>Paragraphs of the entries an index lists, cut from the decompressed dictionary bytes.</summary>
    public static IEnumerable<Passage> FromIndex(IEnumerable<string> indexLines, byte[] dictionary, string indexPath = IndexFile)
    {
        var entries = ReadEntries(indexLines, dictionary.LongLength, indexPath);
        long number = 0;
        foreach (var entry in entries)
        {
            var text = Encoding.UTF8.GetString(dictionary, (int)entry.Offset, entry.Length);
            foreach (var paragraph in Paragraphs(text))
            {
                if (!entry.IsMetadata) yield return new Passage($"gcide:{number}", paragraph);
                number++;
            }
        }
    }

    /// <summary>The numbered paragraphs of one entry's text (those of at least three words), cleaned.</summary>
    public static IEnumerable<string> Paragraphs(string entryText)
    {
        foreach (var block in ParagraphBreak().Split(entryText))
        {
            var cleaned = PassageText.CollapseWhitespace(SourceTag().Replace(block, " "));
            if (PassageText.WordCount(cleaned) >= 3) yield return cleaned;
        }
    }

    internal readonly record struct Entry(long Offset, int Length, bool IsMetadata);

    internal static List<Entry> ReadEntries(IEnumerable<string> indexLines, long dictionaryLength, string indexPath)
    {
        var byRange = new Dictionary<(long, int), bool>();
        long row = 0;
        foreach (var line in indexLines)
        {
            if (line.Length == 0)
            {
                row++;
                continue;
            }
            var parts = line.Split('\t');
            if (parts.Length < 3)
                throw new DataFormatException(indexPath, $"expected 'headword<TAB>offset<TAB>length', found '{line}'", row);
            long offset = DecodeBase64Number(parts[1], indexPath, row);
            long length = DecodeBase64Number(parts[2], indexPath, row);
            if (offset + length > dictionaryLength || length > int.MaxValue)
                throw new DataFormatException(indexPath,
                    $"entry '{parts[0]}' spans bytes [{offset}, {offset + length}) but the dictionary holds {dictionaryLength} bytes", row);
            var key = (offset, (int)length);
            bool metadata = parts[0].StartsWith("00-", StringComparison.Ordinal);
            byRange[key] = byRange.TryGetValue(key, out var seen) ? seen || metadata : metadata;
            row++;
        }
        var entries = new List<Entry>(byRange.Count);
        foreach (var ((offset, length), metadata) in byRange) entries.Add(new Entry(offset, length, metadata));
        entries.Sort((a, b) => a.Offset != b.Offset ? a.Offset.CompareTo(b.Offset) : a.Length.CompareTo(b.Length));
        return entries;
    }

    /// <summary>dictd's numbers: base64 digits (A-Z a-z 0-9 + /), most significant first.</summary>
    public static long DecodeBase64Number(string digits, string path = IndexFile, long row = 0)
    {
        if (digits.Length == 0 || digits.Length > 10)
            throw new DataFormatException(path, $"expected a dictd base64 number, found '{digits}'", row);
        long value = 0;
        foreach (var c in digits)
        {
            int d = c switch
            {
                >= 'A' and <= 'Z' => c - 'A',
                >= 'a' and <= 'z' => c - 'a' + 26,
                >= '0' and <= '9' => c - '0' + 52,
                '+' => 62,
                '/' => 63,
                _ => -1,
            };
            if (d < 0) throw new DataFormatException(path, $"'{c}' is not a dictd base64 digit in '{digits}'", row);
            value = value * 64 + d;
        }
        return value;
    }
}
