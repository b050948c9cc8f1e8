using System.IO.Compression;
using System.Text;
using Retrieval.Bench.Datasets.Sources;
using Retrieval.Index.Errors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Datasets;

/// <summary>
/// The text-extraction steps of the passages recipe on tiny excerpts of the real sources
/// (datasets/fixtures/recipe-sources). Expected texts were checked against ../shared/datasets/passages where the
/// excerpt holds a passage it has (wn:n13819074, wn:a00603194, gcide:17692's text, deb:f85067d1...).
/// </summary>
public class TextSourceTests
{
    private static string Source(params string[] parts) => TestData.Fixture(["recipe-sources", .. parts]);

    [Fact]
    public void WordNetSynsetsBecomeLemmaColonGloss()
    {
        var passages = WordNetGlosses.Read(Source("wordnet")).ToList();
        Assert.Equal(
            [
                "wn:n06687701", "wn:n13819074", "wn:v00001740", "wn:a00603194", "wn:a01354430", "wn:r00001740",
            ],
            passages.Select(p => p.Id).ToArray());
        var byId = passages.ToDictionary(p => p.Id, p => p.Text);
        Assert.Equal("unemployment rate: the percentage of the work force that is unemployed at any given date", byId["wn:n13819074"]);
        Assert.Equal("O.K.: an endorsement; \"they gave us the O.K. to go ahead\"", byId["wn:n06687701"]);
        // Adjective markers stay, as in the shared copy; satellites ('s') share the adjective letter.
        Assert.Equal("agreed upon(p): constituted or contracted by stipulation or agreement; \"stipulatory obligations\"", byId["wn:a00603194"]);
        Assert.StartsWith("starting: (especially of eyes) bulging", byId["wn:a01354430"]);
        Assert.Equal("a cappella: without musical accompaniment; \"they performed a cappella\"", byId["wn:r00001740"]);
    }

    [Fact]
    public void AMalformedWordNetLineNamesFileAndRow()
    {
        var e = Assert.Throws<DataFormatException>(() => WordNetGlosses.ParseLine("12ab first_word | x", 'n', "data.noun", 7));
        Assert.Equal(7, e.Row);
        Assert.Contains("data.noun", e.Message);
        Assert.Null(WordNetGlosses.ParseLine("  1 This software and database is being provided", 'n'));
        Assert.Throws<RetrievalException>(() => WordNetGlosses.Read(TestData.TempDirectory()).ToList());
    }

    [Fact]
    public void GcideParagraphsAreNumberedInEntryOrderAndCleaned()
    {
        var passages = GcideParagraphs.Read(Source("gcide")).ToList();
        // #0 is the 00-database-short entry (numbered, not returned); "Too short." has two words and is not numbered;
        // the stray paragraph between two entries belongs to no entry and is never seen.
        Assert.Equal(Enumerable.Range(1, 13).Select(i => $"gcide:{i}").ToArray(), passages.Select(p => p.Id).ToArray());
        var t = passages.Select(p => p.Text).ToArray();
        Assert.Equal("1 \\1\\ adj. 1. used of a single unit or thing; not two or more; -- representing the number one as an Arabic numeral.", t[0]);
        Assert.Equal("Syn: one, i, ane", t[1]);
        Assert.Equal("2. A dessert; a course of sweetmeats; a sweetmeat or sweetmeats. [Obs.]", t[3]);
        // The same text is gcide:17692 in ../shared/datasets/passages.
        Assert.Equal("Banquet \\Ban\"quet\\, v. t. [imp. & p. p. {Banqueted}; p. pr. & vb. n. {Banqueting}.] To treat with a banquet or sumptuous entertainment of food; to feast.", t[5]);
        Assert.Equal("Just in time to banquet The illustrious company assembled there. --Coleridge.", t[6]);
        // Two headwords point at one entry: read once.
        Assert.Single(t, x => x.StartsWith("Abecedarian \\A`be*ce*da\"ri*an\\, Abecedary", StringComparison.Ordinal));
        // An unclosed '[' before a source tag is cut with it, as the shared copy was.
        Assert.Equal("Chromograph \\Chro\"mo*graph\\, n. [Gr. ? color + -graph.] An apparatus by which a number of copies of", t[9]);
        // A whitespace-only line separates paragraphs; "[PJC]" and "[Webster 1913 Suppl.]" are source tags.
        Assert.Equal("Test \\Test\\, n. 1. First sense of a made-up entry for the fixture.", t[10]);
        Assert.Equal("2. Second sense follows a line of spaces.", t[11]);
        Assert.Equal("3. Numbered after the short one.", t[12]);
        Assert.DoesNotContain(t, x => x.Contains("stray paragraph"));
        Assert.DoesNotContain(t, x => x.Contains("Collaborative International"));
    }

    [Fact]
    public void DictdNumbersAreBase64Digits()
    {
        Assert.Equal(0, GcideParagraphs.DecodeBase64Number("A"));
        Assert.Equal(57 * 64 + 8, GcideParagraphs.DecodeBase64Number("5I"));
        Assert.Equal(63, GcideParagraphs.DecodeBase64Number("/"));
        Assert.Throws<DataFormatException>(() => GcideParagraphs.DecodeBase64Number("a*b"));
    }

    [Fact]
    public void AGcideIndexEntryBeyondTheDictionaryIsAnError()
    {
        var e = Assert.Throws<DataFormatException>(() => GcideParagraphs.FromIndex(["word\tA\tZ"], new byte[10], "gcide.index").ToList());
        Assert.Contains("spans bytes [0, 25)", e.Message);
        Assert.Equal(0, e.Row);
        Assert.Throws<DataFormatException>(() => GcideParagraphs.FromIndex(["no tabs here"], new byte[10]).ToList());
    }

    [Fact]
    public void DebianDescriptionsKeepParagraphsAndSkipRepeatedMd5s()
    {
        var files = new[] { Source("debian", "Translation-en.main"), Source("debian", "Translation-en.updates") };
        var descriptions = DebianDescriptions.Read(files).ToList();
        Assert.Equal(["7zip", "mgp", "mgt", "cowsay", "tiny"], descriptions.Select(d => d.Package).ToArray());
        var sevenZip = descriptions[0];
        Assert.Equal("7-Zip file archiver with a high compression ratio", sevenZip.Short);
        Assert.StartsWith("7-Zip is a file archiver with a high compression ratio. The main features of 7-Zip are: * High compression", sevenZip.Long);
        Assert.EndsWith("* Powerful command line version ¶ Note: The unRAR code was dropped to keep compatible with DFSG.", sevenZip.Long);
        // U+200A hair spaces count as whitespace (debq:f85067d19d0f3adcf28731801478ab3d in the shared queries).
        Assert.Equal("MagicPoint — an X11-based presentation tool", descriptions[1].Short);
        Assert.Equal("f85067d19d0f3adcf28731801478ab3d", descriptions[1].Md5);
        var mgt = descriptions[2];
        Assert.Equal("Mgt allows the user to examine Go game tree files in the SmartGo format. Mgt also has basic Go game tree editing capabilities and may be used to create or edit game tree files. ¶ Mailgo is a utility which manages E-mail Go games using mgt as the Go board editor. It is included in the mgt package.", mgt.Long);
        Assert.Equal("Short.", descriptions[4].Long);
    }

    [Fact]
    public void AMalformedTranslationLineIsAnError()
    {
        var text = "Package: x\nDescription-md5: 00\nDescription-en: short\n long\nthis line has no colon\n";
        var e = Assert.Throws<DataFormatException>(() => DebianDescriptions.Parse(new StringReader(text), "T-en").ToList());
        Assert.Equal(4, e.Row);
        var noMd5 = "Package: x\nDescription-en: short\n long\n\n";
        Assert.Throws<DataFormatException>(() => DebianDescriptions.Parse(new StringReader(noMd5)).ToList());
    }

    [Fact]
    public void TextRulesMatchTheSharedCopy()
    {
        Assert.Equal("a b c", PassageText.CollapseWhitespace("  a \t b\n\u200a c \u001f"));
        Assert.Equal(3, PassageText.WordCount("a b c"));
        Assert.Equal(0, PassageText.WordCount(""));
        var words = string.Join(' ', Enumerable.Repeat("word", 200)); // 999 characters
        var capped = PassageText.Cap(words);
        Assert.Equal(509, capped.Length); // 102 words: the cut at 512 falls inside the 103rd, which is dropped
        Assert.EndsWith("word", capped);
        var noSpace = new string('x', 600);
        Assert.Equal(512, PassageText.Cap(noSpace).Length);
        // Characters are Unicode scalars: a supplementary-plane letter counts once.
        var astral = string.Concat(Enumerable.Repeat("\U0001D400", 600));
        Assert.Equal(512, PassageText.CharacterCount(PassageText.Cap(astral)));
        Assert.Equal(1024, PassageText.Cap(astral).Length);
    }

    [Fact]
    public void TheCorpusBuilderFiltersDeduplicatesAndShufflesDeterministically()
    {
        string Long(string s) => s + " " + new string('x', 40);
        var wn = new[] { new Passage("wn:1", Long("alpha")), new Passage("wn:2", "too short to keep") };
        var gc = new[] { new Passage("gcide:1", Long("alpha")), new Passage("gcide:2", "Syn: " + Long("a")), new Passage("gcide:3", Long("beta")) };
        var deb = new[] { new Passage("deb:1", Long("gamma")) };
        var queries = new[] { new Passage("debq:1", "a real query"), new Passage("debq:2", "a real query"), new Passage("debq:3", "short"), new Passage("debq:4", "another query") };
        var corpus = PassageCorpusBuilder.Build([wn, gc, deb], queries);
        Assert.Equal(["deb:1", "gcide:3", "wn:1"], corpus.Passages.Select(p => p.Id).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(["debq:1", "debq:4"], corpus.Queries.Select(p => p.Id).Order(StringComparer.Ordinal).ToArray());
        var again = PassageCorpusBuilder.Build([wn, gc, deb], queries);
        Assert.Equal(corpus.Passages, again.Passages);
        var limited = PassageCorpusBuilder.Build([wn], queries, queryCount: 1);
        Assert.Single(limited.Queries);
    }

    [Fact]
    public void TheSeededShuffleIsAFixedPermutation()
    {
        var items = Enumerable.Range(0, 10).ToList();
        SeededShuffle.Shuffle(items, 20261128);
        Assert.Equal(Enumerable.Range(0, 10), items.Order());
        Assert.NotEqual(Enumerable.Range(0, 10), items);
        var again = Enumerable.Range(0, 10).ToList();
        SeededShuffle.Shuffle(again, 20261128);
        Assert.Equal(items, again);
        // SplitMix64's published first output for seed 0.
        ulong state = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, SeededShuffle.Next(ref state));
    }

    [Fact]
    public void GzipOfTheFixtureIsReadLikeDictzip()
    {
        // dictzip files are gzip with an extra header field; GZipStream must accept that field.
        var text = Encoding.UTF8.GetBytes("word\n   A made-up entry with enough words.\n");
        var gz = new MemoryStream();
        gz.Write([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 2, 3]); // FLG.FEXTRA set
        gz.Write([6, 0, (byte)'R', (byte)'A', 2, 0, 1, 0]); // XLEN=6: subfield "RA", 2 bytes
        var deflated = new MemoryStream();
        using (var d = new DeflateStream(deflated, CompressionLevel.Optimal, leaveOpen: true)) d.Write(text);
        gz.Write(deflated.ToArray());
        gz.Write(BitConverter.GetBytes(Crc32(text)));
        gz.Write(BitConverter.GetBytes(text.Length));
        var dir = TestData.TempDirectory();
        File.WriteAllBytes(Path.Combine(dir, "gcide.dict.dz"), gz.ToArray());
        File.WriteAllText(Path.Combine(dir, "gcide.index"), $"word\tA\t{Enc(text.Length)}\n");
        var passages = GcideParagraphs.Read(dir).ToList();
        Assert.Equal("word A made-up entry with enough words.", Assert.Single(passages).Text);
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    private static string Enc(int v)
    {
        const string digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        var s = "";
        do
        {
            s = digits[v % 64] + s;
            v /= 64;
        } while (v > 0);
        return s;
    }
}
