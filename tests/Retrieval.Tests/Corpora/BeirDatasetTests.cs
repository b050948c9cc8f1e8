using Retrieval.Bench.Corpora;
using Retrieval.Index.Errors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Corpora;

public class BeirDatasetTests
{
    [Fact]
    public void TinyFolderLoadsDocumentsQueriesAndQrels()
    {
        var b = BeirDataset.Load(TestData.Fixture("text", "beir-tiny"));
        Assert.Equal(3, b.DocumentCount);
        Assert.Equal(["d1", "d2", "3"], b.DocumentIds); // a numeric _id reads as its text
        Assert.Equal("Aspirin and headaches", b.DocumentTitles[0]);
        Assert.Equal("", b.DocumentTitles[2]); // null title
        Assert.Equal("Aspirin and headaches Aspirin relieves tension headaches in adults.", b.DocumentText(0));
        Assert.Equal("Vitamin C does not prevent the common cold.", b.DocumentText(1)); // empty title: text only
        Assert.Equal("Café culture: coffee intake and sleep quality.", b.DocumentBodies[2]); // \u00e9 escape decoded
        Assert.Equal(3, b.Queries.Count);
        Assert.Equal("coffee and sleep", b.Queries.Texts[b.Queries.RowOf("q2")]);
        Assert.Equal(3, b.Qrels.Count);
        Assert.Equal(2, b.Qrels.QueryCount);
        Assert.Equal(2, b.Qrels.Grade("q2", "3"));
        Assert.False(b.Qrels.HasJudgements("q3"));
        Assert.Equal(2, b.DocumentRow("3"));
    }

    [Theory]
    [InlineData("beir-bad-json", "corpus.jsonl", 2, "malformed JSON")]
    [InlineData("beir-duplicate-doc", "corpus.jsonl", 3, "duplicate \"_id\" 'd1' (first seen on line 1)")]
    [InlineData("beir-missing-text", "corpus.jsonl", 1, "expected a \"text\" field for 'd1'")]
    [InlineData("beir-bad-header", "test.tsv", 1, "expected the header 'query-id<TAB>corpus-id<TAB>score'")]
    [InlineData("beir-bad-score", "test.tsv", 3, "expected an integer score in field 3, found \"0.5\"")]
    public void MalformedFilesNameFileAndLine(string folder, string file, int line, string problem)
    {
        var e = Assert.Throws<DataFormatException>(() => BeirDataset.Load(TestData.Fixture("text", folder)));
        Assert.Contains(file, e.FilePath);
        Assert.Contains($"line {line}:", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void EmptyCorpusIsRejected()
    {
        var e = Assert.Throws<DataFormatException>(() => BeirDataset.Load(TestData.Fixture("text", "beir-empty-corpus")));
        Assert.Contains("corpus.jsonl", e.Message);
        Assert.Contains("empty file", e.Message);
    }

    [Fact]
    public void MissingFolderIsNotFound()
    {
        var e = Assert.Throws<RetrievalException>(() => BeirDataset.Load(TestData.Fixture("text", "no-such-beir")));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
    }

    [SkippableFact]
    public void SciFactHasTheDocumentedCounts()
    {
        var b = BeirDataset.Load(TestData.SharedDataset("scifact"));
        Assert.Equal(5183, b.DocumentCount);
        Assert.Equal(300, b.Queries.Count);
        Assert.Equal(339, b.Qrels.Count);
        Assert.Equal(300, b.Qrels.QueryCount);
        // Every judged document and query exists in the corpus / query file.
        foreach (var q in b.Qrels.QueryIds)
        {
            Assert.True(b.Queries.Contains(q), q);
            foreach (var d in b.Qrels.For(q).Keys) Assert.True(b.DocumentRow(d) >= 0, d);
        }
    }

    [SkippableFact]
    public void PassagesAndQueriesTsvReadInFull()
    {
        var dir = TestData.SharedDataset("passages");
        var queries = TsvTextFile.Read(Path.Combine(dir, "queries.tsv.gz"));
        Assert.Equal(10_000, queries.Count);
        Assert.StartsWith("debq:", queries.Ids[0]);
        long count = 0;
        foreach (var record in TsvTextFile.Enumerate(Path.Combine(dir, "passages.tsv.gz")))
        {
            Assert.True(record.Text.Length <= 512, record.Id); // the manifest caps passages at 512 characters
            count++;
        }
        Assert.Equal(395_436, count);
    }
}
