using System.IO.Compression;
using Retrieval.Bench.Corpora;
using Retrieval.Index.Errors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Corpora;

public class TextReaderTests
{
    private static string Text(string name) => TestData.Fixture("text", name);

    [Fact]
    public void TsvReadsIdsAndTextsInFileOrder()
    {
        var c = TsvTextFile.Read(Text("tiny.tsv"));
        Assert.Equal(["p1", "p2", "p3"], c.Ids);
        Assert.Equal("The quick brown fox.", c.Texts[0]);
        Assert.Equal("", c.Texts[1]);
        Assert.Equal("A café naïve résumé", c.Texts[2]); // CRLF stripped, UTF-8 decoded
        Assert.Equal(2, c.RowOf("p3"));
        Assert.Equal(-1, c.RowOf("nope"));
    }

    [Fact]
    public void TsvGzipAndStreamingGiveTheSameRecords()
    {
        var dir = TestData.TempDirectory();
        var gz = Path.Combine(dir, "tiny.tsv.gz");
        using (var output = new GZipStream(File.Create(gz), CompressionLevel.Fastest))
        using (var input = File.OpenRead(Text("tiny.tsv")))
            input.CopyTo(output);
        var plain = TsvTextFile.Read(Text("tiny.tsv"));
        var zipped = TsvTextFile.Read(gz);
        Assert.Equal(plain.Ids, zipped.Ids);
        Assert.Equal(plain.Texts, zipped.Texts);
        var streamed = TsvTextFile.Enumerate(gz).ToList();
        Assert.Equal(plain.Ids, streamed.Select(r => r.Id));
        Assert.Equal(plain.Texts, streamed.Select(r => r.Text));
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("tsv-missing-tab.tsv", 2, "expected 2 tab-separated fields (id, text), found 1")]
    [InlineData("tsv-extra-field.tsv", 2, "expected 2 tab-separated fields (id, text), found 3")]
    [InlineData("tsv-duplicate-id.tsv", 3, "duplicate id 'p1' (first seen on line 1)")]
    [InlineData("tsv-empty-id.tsv", 1, "non-empty id")]
    public void TsvMalformedLinesNameFileAndLine(string file, int line, string problem)
    {
        var e = Assert.Throws<DataFormatException>(() => TsvTextFile.Read(Text(file)));
        Assert.Contains(file, e.Message);
        Assert.Contains($"line {line}:", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.Equal(line - 1, e.Row);
    }

    [Fact]
    public void TsvStreamingChecksLineShapeToo()
    {
        var e = Assert.Throws<DataFormatException>(() => TsvTextFile.Enumerate(Text("tsv-missing-tab.tsv")).ToList());
        Assert.Contains("line 2:", e.Message);
    }

    [Fact]
    public void EmptyFilesAreRejectedByEveryReader()
    {
        var empty = Text("empty.txt");
        Assert.Contains("empty file", Assert.Throws<DataFormatException>(() => TsvTextFile.Read(empty)).Message);
        Assert.Contains("empty file", Assert.Throws<DataFormatException>(() => TsvTextFile.Enumerate(empty).ToList()).Message);
        Assert.Contains("empty file", Assert.Throws<DataFormatException>(() => TrecQrelsFile.Read(empty)).Message);
    }

    [Fact]
    public void MissingFileIsNotFound()
    {
        var e = Assert.Throws<RetrievalException>(() => TsvTextFile.Read(Text("no-such-file.tsv")));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("no-such-file.tsv", e.Message);
    }

    [Fact]
    public void TrecQrelsReadGradesSplitOnSpacesOrTabs()
    {
        var q = TrecQrelsFile.Read(Text("tiny.qrels"));
        Assert.Equal(3, q.Count);
        Assert.Equal(2, q.QueryCount);
        Assert.Equal(["301", "302"], q.QueryIds);
        Assert.Equal(1, q.Grade("301", "FBIS3-10082"));
        Assert.Equal(0, q.Grade("301", "FBIS3-10169"));
        Assert.Equal(2, q.Grade("302", "FBIS4-67701"));
        Assert.Equal(0, q.Grade("302", "unjudged"));
        Assert.Equal(2, q.For("301").Count);
        Assert.Empty(q.For("999"));
    }

    [Theory]
    [InlineData("qrels-bad-grade.qrels", 2, "expected an integer grade in field 4, found \"high\"")]
    [InlineData("qrels-three-fields.qrels", 2, "expected 4 whitespace-separated fields (query-id iteration doc-id grade), found 3")]
    [InlineData("qrels-duplicate.qrels", 2, "query '301' / document 'FBIS3-10082' is judged twice")]
    public void TrecQrelsMalformedLinesNameFileAndLine(string file, int line, string problem)
    {
        var e = Assert.Throws<DataFormatException>(() => TrecQrelsFile.Read(Text(file)));
        Assert.Contains(file, e.Message);
        Assert.Contains($"line {line}:", e.Message);
        Assert.Contains(problem, e.Message);
    }
}
