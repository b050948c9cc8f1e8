using Retrieval.Index.Formats;
using Retrieval.Index.Search;
using Retrieval.Index.Seismic;
using Retrieval.Query.Encoders;
using Retrieval.Query.Indexes.Seismic;
using Retrieval.Tests.Cli;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

/// <summary>
/// Unknown tokens: tokens outside the vocabulary are dropped but counted, for JSONL vectors (token
/// strings) and raw text (WordPiece [UNK]), in the API, the build report and the search log; a query made only of
/// unknown tokens searches as an empty query (padding, not an error).
/// </summary>
public class SeismicUnknownTokenTests
{
    // U+2603 (snowman) and U+1F600 are not bert-base-uncased pieces, so WordPiece yields [UNK] for each.
    private const string Odd = "\u2603 \U0001F600";

    private static int UnknownIn(string text)
    {
        var tok = BertSparseTokenizer.BertBaseUncased;
        return tok.EncodeToIds(text).Count(id => id == tok.UnknownId);
    }

    [Fact]
    public void TextBuildAndQueriesCountUnknownTokens()
    {
        Assert.Equal(2, UnknownIn(Odd));
        string[] texts = ["river bank " + Odd, "money loan bank", "piano music " + Odd + " \u2603"];
        var index = SeismicTextIndex.Build(["a", "b", "c"], texts, new SeismicTextOptions { Build = SeismicBuildOptions.Lossless, Threads = 1 });
        Assert.Equal(5, index.UnknownDocumentTokens);
        Assert.Equal(texts.Sum(UnknownIn), index.UnknownDocumentTokens);

        var queries = index.EncodeQueries(["bank " + Odd, Odd], out long unknownInQueries);
        Assert.Equal(4, unknownInQueries);
        Assert.Equal(0, queries.Row(1).NonZeroCount);
        var r = index.Index.Search(queries, 2, SeismicSearchParameters.Exhaustive, threads: 1);
        Assert.Equal(2, r.IdsOf(0).ToArray().Count(id => id >= 0));
        Assert.All(r.IdsOf(1).ToArray(), id => Assert.Equal(SearchResults.MissingId, id));
    }

    [Fact]
    public void EncoderCountsUnknownTokensInDocumentsAndQueries()
    {
        var encoder = new SparseTextEncoder(threads: 1);
        var (docs, statistics) = encoder.FitDocuments(["alpha " + Odd, "beta"], null, null, out long unknownDocs);
        Assert.Equal(2, unknownDocs);
        Assert.Equal(1, docs.Row(0).NonZeroCount);
        encoder.EncodeQueries(["\u2603 alpha \u2603 \u2603"], statistics, out long unknownQueries);
        Assert.Equal(3, unknownQueries);
        encoder.EncodeQueries(["alpha beta"], statistics, out long none);
        Assert.Equal(0, none);
    }

    [Fact]
    public void JsonlUnknownTokensAreCountedAndReportedByBuild()
    {
        var work = TestData.TempDirectory();
        var path = Path.Combine(work, "docs.jsonl");
        File.WriteAllLines(path,
        [
            """{"id": "d0", "content": "x", "vector": {"river": 1.5, "zzqxnotatoken": 2.0, "bank": 0.5}}""",
            """{"id": "d1", "content": "y", "vector": {"money": 1.0, "zzqxnotatoken": 1.0, "qqzvnotatoken": 3.0}}""",
        ]);
        var data = SeismicJsonlFile.Read(path, BertVocabulary.BertBaseUncased);
        Assert.Equal(3, data.UnknownTokenCount);
        Assert.Equal(2, data.DistinctUnknownTokens);
        Assert.Equal(2, data.Vectors.Row(0).NonZeroCount);
        var index = SeismicIndex.Build(data.Vectors, SeismicBuildOptions.Lossless, data.Ids);
        Assert.Equal(2, index.Count);

        var build = CliRunner.Run("--json", "build", "seismic", "--input", path, "--out", Path.Combine(work, "idx"));
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Contains("\"unknown_tokens\":3", build.Stdout);
    }

    [Fact]
    public void TextBuildAndQueryTextSearchReportUnknownTokens()
    {
        var work = TestData.TempDirectory();
        var docs = Path.Combine(work, "docs.tsv");
        File.WriteAllLines(docs, Enumerable.Range(0, 30).Select(i => $"d{i}\triver bank {(i % 2 == 0 ? Odd : "water")} {i}"));
        var queries = Path.Combine(work, "queries.tsv");
        File.WriteAllLines(queries, ["q1\triver \u2603", "q2\t" + Odd]);
        var dir = Path.Combine(work, "idx");
        var build = CliRunner.Run("--json", "build", "seismic", "--input", docs, "--out", dir, "--lambda", "50");
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Contains("\"unknown_tokens\":30", build.Stdout);
        var search = CliRunner.Run("--json", "search", "--index", dir, "--query-text", queries, "--k", "3");
        Assert.True(search.ExitCode == 0, search.ToString());
        Assert.Contains("unknown tokens ([UNK], dropped): 3", search.Stderr);
    }
}
