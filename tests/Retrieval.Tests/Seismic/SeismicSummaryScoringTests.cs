using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Seismic;

/// <summary>
/// A search locates the query's terms in the summaries of all its cut lists up front (segment fence, segment, entry
/// offset, entry run; see <see cref="QuantizedSummaries"/>) and accumulates each list's block scores later. Block
/// scores decide which blocks are skipped, so they must equal, bit for bit, those of a plain term-by-term pass over
/// the stored entries (the reference below: every query term in ascending order, each of its entries in stored
/// order, then min x W + scale x C per block), for every summary width and for query terms before, between, on and
/// after the segment boundaries.
/// </summary>
public class SeismicSummaryScoringTests
{
    public static TheoryData<string> Layouts => new() { "narrow", "wide-terms", "wide-blocks-and-offsets" };

    [Fact]
    public void EntriesArePackedBlockThenCode()
    {
        // Entries are stored in memory as (block, code) pairs with no padding: 2 bytes with u8 blocks, 3 with u16.
        Assert.Equal(2, System.Runtime.CompilerServices.Unsafe.SizeOf<SummaryEntry<byte>>());
        Assert.Equal(3, System.Runtime.CompilerServices.Unsafe.SizeOf<SummaryEntry<ushort>>());
        var (docs, options) = Collection("wide-blocks-and-offsets");
        var index = SeismicIndex.Build(docs, options);
        var (_, _, blocks, codes) = index.Summaries.RawArrays;
        Assert.Equal(index.Summaries.EntryCount, codes.LongLength);
        var wide = Assert.IsType<ushort[]>(blocks);
        for (int e = 0; e < codes.Length; e++)
        {
            Assert.Equal(wide[e], index.Summaries.EntryBlock(e));
            Assert.Equal(codes[e], index.Summaries.EntryCode(e));
        }
        Assert.Contains(wide, b => b > 255);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void EveryListScoresLikeTheTermByTermPass(string layout)
    {
        var (docs, options) = Collection(layout);
        var index = SeismicIndex.Build(docs, options);
        var s = index.Summaries;
        var rng = new Random(17);
        int listsChecked = 0;
        for (int term = 0; term < docs.ColumnCount; term++)
        {
            if (index.Postings.BlockCountOf(term) < 2) continue;
            listsChecked++;
            int lo = s.TermComponentStart[term], hi = s.TermComponentStart[term + 1];
            var components = new List<int>();
            for (int c = lo; c < hi; c++) components.Add(s.ComponentTerm(c));
            // Every component at once (every segment of the list, every boundary), then random subsets mixed with
            // terms the list lacks (below its first component, in gaps, past its last).
            AssertListMatches(index, term, components.ToArray(), rng);
            for (int trial = 0; trial < 4; trial++)
            {
                var chosen = new SortedSet<int>();
                foreach (int t in components) if (rng.NextDouble() < 0.2) chosen.Add(t);
                for (int extra = 0; extra < 4; extra++) chosen.Add(rng.Next(docs.ColumnCount));
                AssertListMatches(index, term, chosen.ToArray(), rng);
            }
        }
        Assert.True(listsChecked > 10, $"only {listsChecked} multi-block lists");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void LocatingAllCutListsUpFrontScoresEachLikeTheTermByTermPass(string layout)
    {
        var (docs, options) = Collection(layout);
        var index = SeismicIndex.Build(docs, options);
        var queries = layout == "wide-terms"
            ? Spread(SeismicTestData.Collection(23, rows: 40, vocabulary: 300, maxNnz: 12), 70_000, 231)
            : SeismicTestData.Collection(23, rows: 40, vocabulary: docs.ColumnCount, maxNnz: 12);
        AssertCutListsMatch(index, queries, cut: 8);
    }

    /// <summary>
    /// Real learned-sparse vectors: 1,500 MS MARCO dev queries as SPLADE-v3 vectors are the documents, 60 as
    /// DistilSPLADE-max vectors the queries (default build); every query's lists located together.
    /// </summary>
    [SkippableFact]
    public void RealSpladeQueriesScoreLikeTheTermByTermPass()
    {
        var (docVectors, queryVectors) = SeismicTestData.SpladeSlice(1500, 60);
        var index = SeismicIndex.Build(docVectors);
        AssertCutListsMatch(index, queryVectors, cut: 20);
    }

    private static (SparseMatrix Docs, SeismicBuildOptions Options) Collection(string layout) => layout switch
    {
        "narrow" => (SeismicTestData.Collection(5, rows: 1500, vocabulary: 900, maxNnz: 30),
            SeismicBuildOptions.Lossless with { CentroidFraction = 0.2 }),
        // Term ids spread over a 70,000-term vocabulary: i32 component ids (16 per fence segment).
        "wide-terms" => (Spread(SeismicTestData.Collection(7, rows: 800, vocabulary: 300, maxNnz: 20), 70_000, 231),
            SeismicBuildOptions.Lossless with { CentroidFraction = 0.2 }),
        // A list with more than 256 blocks and 65,536 entries: u16 block ids, i32 entry offsets.
        "wide-blocks-and-offsets" => (SeismicTestData.Collection(9, rows: 3000, vocabulary: 160, maxNnz: 70, minNnz: 50),
            SeismicBuildOptions.Lossless with { CentroidFraction = 0.25 }),
        _ => throw new ArgumentException(layout),
    };

    private static SparseMatrix Spread(SparseMatrix m, int vocabulary, int stride)
    {
        var indices = new int[m.Indices.Length];
        for (int i = 0; i < indices.Length; i++) indices[i] = m.Indices[i] * stride;
        return new SparseMatrix(m.RowCount, vocabulary, (long[])m.RowOffsets.Clone(), indices, (float[])m.Values.Clone());
    }

    private static void AssertListMatches(SeismicIndex index, int term, int[] queryTerms, Random rng)
    {
        var weights = new float[queryTerms.Length];
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)(rng.NextDouble() * 3 + 0.001);
        int firstBlock = index.Postings.TermBlockStart[term], blockCount = index.Postings.BlockCountOf(term);
        var expected = Reference(index.Summaries, term, firstBlock, blockCount, queryTerms, weights, out int expectedEntries);
        var scores = new float[blockCount];
        var runs = new SummaryRun[queryTerms.Length];
        int entries = index.Summaries.ScoreList(term, firstBlock, blockCount, queryTerms, weights, scores, new float[blockCount], runs);
        Assert.Equal(expectedEntries, entries);
        AssertBitEqual(expected, scores, $"list {term}, {queryTerms.Length} query terms");
    }

    private static void AssertCutListsMatch(SeismicIndex index, SparseMatrix queries, int cut)
    {
        int maxBlocks = 1, maxLength = 1, listsChecked = 0;
        for (int t = 0; t < index.VocabularySize; t++) maxBlocks = Math.Max(maxBlocks, index.Postings.BlockCountOf(t));
        for (int d = 0; d < index.Count; d++) maxLength = Math.Max(maxLength, index.Forward.LengthOf(d));
        var scratch = new SeismicScratch(index.VocabularySize, index.Count, maxBlocks, maxLength);
        for (int q = 0; q < queries.RowCount; q++)
        {
            var row = queries.Row(q);
            int[] terms = row.Indices.ToArray();
            float[] weights = row.Values.ToArray();
            // Any order of the query's terms is a valid cut; descending weight is what the search uses.
            int n = Math.Min(cut, terms.Length);
            var order = new long[terms.Length];
            for (int i = 0; i < terms.Length; i++) order[i] = ((long)(int.MaxValue - BitConverter.SingleToInt32Bits(weights[i])) << 32) | (uint)i;
            Array.Sort(order);
            SummaryLocation.Locate(index, terms, order.AsSpan(0, n), scratch);
            for (int c = 0; c < n; c++)
            {
                int term = terms[(int)(uint)order[c]];
                int firstBlock = index.Postings.TermBlockStart[term], blockCount = index.Postings.BlockCountOf(term);
                if (blockCount < 2) continue;
                listsChecked++;
                var runs = scratch.SummaryRuns.AsSpan(scratch.RunStarts[c], scratch.RunEnds[c] - scratch.RunStarts[c]);
                var scores = new float[blockCount];
                int entries = index.Summaries.AccumulateRuns(firstBlock, blockCount, runs, weights, scores, new float[blockCount]);
                var expected = Reference(index.Summaries, term, firstBlock, blockCount, terms, weights, out int expectedEntries);
                Assert.Equal(expectedEntries, entries);
                AssertBitEqual(expected, scores, $"query {q}, cut slot {c} (list {term})");
            }
        }
        Assert.True(listsChecked > 20, $"only {listsChecked} multi-block lists visited");
    }

    /// <summary>The plain pass: each query term looked up by a linear scan of the list's components.</summary>
    private static float[] Reference(QuantizedSummaries s, int term, int firstBlock, int blockCount, int[] queryTerms, float[] weights,
        out int entries)
    {
        var codeSums = new float[blockCount];
        var weightSums = new float[blockCount];
        entries = 0;
        for (int qi = 0; qi < queryTerms.Length; qi++)
        {
            for (int c = s.TermComponentStart[term]; c < s.TermComponentStart[term + 1]; c++)
            {
                if (s.ComponentTerm(c) != queryTerms[qi]) continue;
                var (start, end) = s.ComponentEntries(term, c);
                entries += end - start;
                for (int e = start; e < end; e++)
                {
                    int b = s.EntryBlock(e);
                    codeSums[b] += weights[qi] * s.EntryCode(e);
                    weightSums[b] += weights[qi];
                }
            }
        }
        var scores = new float[blockCount];
        for (int b = 0; b < blockCount; b++)
            scores[b] = s.BlockMin[firstBlock + b] * weightSums[b] + s.BlockScale[firstBlock + b] * codeSums[b];
        return scores;
    }

    private static void AssertBitEqual(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int b = 0; b < expected.Length; b++)
            if (BitConverter.SingleToInt32Bits(expected[b]) != BitConverter.SingleToInt32Bits(actual[b]))
                Assert.Fail($"{what}: block {b} scores {actual[b]:R}, the term-by-term pass {expected[b]:R}");
    }
}
