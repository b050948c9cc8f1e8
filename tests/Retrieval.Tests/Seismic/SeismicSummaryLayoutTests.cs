using Retrieval.Index.Exact;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

/// <summary>
/// Format version 2 picks the narrowest summary widths that fit (u16 component ids, u16 list-relative entry offsets,
/// u8 block ids) and falls back to wide ones per index when a vocabulary, a list's entries or its blocks outgrow them.
/// Every combination must score identically after a save/open round trip, and a lossless build searched
/// exhaustively must still equal exact search.
/// </summary>
public class SeismicSummaryLayoutTests
{
    [Fact]
    public void SmallIndexUsesNarrowWidths()
    {
        var docs = SeismicTestData.Collection(5, rows: 300, vocabulary: 200, maxNnz: 12);
        var index = SeismicIndex.Build(docs, SeismicBuildOptions.Lossless);
        Assert.Equal((2, 2, 1), index.Summaries.Widths);
        AssertRoundTripAndExact(docs, index, SeismicTestData.Collection(6, rows: 20, vocabulary: 200, maxNnz: 5));
    }

    [Fact]
    public void VocabularyBeyond16BitsUsesWideComponentIds()
    {
        // Term ids spread over a 70,000-term vocabulary: component ids no longer fit in 16 bits.
        var narrow = SeismicTestData.Collection(7, rows: 300, vocabulary: 100, maxNnz: 12);
        var docs = Spread(narrow, 70_000, 693);
        var index = SeismicIndex.Build(docs, SeismicBuildOptions.Lossless);
        Assert.Equal(4, index.Summaries.Widths.TermBytes);
        Assert.True(index.Forward.WideTermIds);
        AssertRoundTripAndExact(docs, index, Spread(SeismicTestData.Collection(8, rows: 20, vocabulary: 100, maxNnz: 5), 70_000, 693));
    }

    [Fact]
    public void LongListsUseWideBlockIdsAndEntryOffsets()
    {
        // Dense-ish documents over a small vocabulary with tiny blocks: some list gets more than 256 blocks and more
        // than 65,536 summary entries.
        var docs = SeismicTestData.Collection(9, rows: 3000, vocabulary: 160, maxNnz: 70, minNnz: 50);
        var options = SeismicBuildOptions.Lossless with { CentroidFraction = 0.25 };
        var index = SeismicIndex.Build(docs, options);
        int maxBlocks = 0, maxEntries = 0;
        for (int t = 0; t < docs.ColumnCount; t++)
        {
            maxBlocks = Math.Max(maxBlocks, index.Postings.BlockCountOf(t));
            maxEntries = Math.Max(maxEntries, index.Summaries.TermEntryStart[t + 1] - index.Summaries.TermEntryStart[t]);
        }
        Assert.True(maxBlocks > 256, $"the test needs a list of more than 256 blocks, got {maxBlocks}");
        Assert.True(maxEntries > 65_536, $"the test needs a list of more than 65,536 summary entries, got {maxEntries}");
        Assert.Equal((2, 4, 2), index.Summaries.Widths);
        AssertRoundTripAndExact(docs, index, SeismicTestData.Collection(10, rows: 10, vocabulary: 160, maxNnz: 6));
    }

    private static SparseMatrix Spread(SparseMatrix m, int vocabulary, int stride)
    {
        var indices = new int[m.Indices.Length];
        for (int i = 0; i < indices.Length; i++) indices[i] = m.Indices[i] * stride;
        return new SparseMatrix(m.RowCount, vocabulary, (long[])m.RowOffsets.Clone(), indices, (float[])m.Values.Clone());
    }

    private static void AssertRoundTripAndExact(SparseMatrix docs, SeismicIndex index, SparseMatrix queries)
    {
        var dir = TestData.TempDirectory();
        index.Save(dir);
        var opened = SeismicIndex.Open(dir);
        Assert.Equal(index.Summaries.Widths, opened.Summaries.Widths);
        Assert.Equal(index.Summaries.SizeInBytes, opened.Summaries.SizeInBytes);
        var p = new SeismicSearchParameters { QueryCut = 3, HeapFactor = 0.9f };
        var a = index.Search(queries, 5, p, threads: 1);
        var b = opened.Search(queries, 5, p, threads: 1);
        Assert.Equal(a.Ids, b.Ids);
        Assert.Equal(a.Scores, b.Scores);
        var exact = new ExactSparseIndex(docs).Search(queries, 5, threads: 1);
        SeismicExactnessTests.AssertSameTopK(exact, opened.Search(queries, 5, SeismicSearchParameters.Exhaustive, threads: 1));
    }
}
