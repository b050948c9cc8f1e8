using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;

namespace Retrieval.Tests.Seismic;

public class SeismicInvariantTests
{
    private static readonly SparseMatrix Docs = SeismicTestData.Collection(11, rows: 1000, vocabulary: 400, maxNnz: 30);

    /// <summary>Without pruning, each term's blocks hold exactly the documents containing it, each once.</summary>
    [Fact]
    public void EveryPostingLandsInExactlyOneBlock()
    {
        var index = SeismicIndex.Build(Docs, SeismicBuildOptions.Default with { Pruning = PostingPruning.None, MinClusterSize = 3 });
        var expected = Holders(Docs);
        var p = index.Postings;
        for (int t = 0; t < Docs.ColumnCount; t++)
        {
            var seen = new List<int>();
            for (int b = p.TermBlockStart[t]; b < p.TermBlockStart[t + 1]; b++)
            {
                var block = p.BlockDocs(b).ToArray();
                Assert.NotEmpty(block);
                Assert.True(block.SequenceEqual(block.Order()), $"term {t} block {b} is not sorted by row");
                seen.AddRange(block.Select(row => index.RowDocuments[row]));
            }
            seen.Sort();
            Assert.Equal(expected[t], seen);
        }
        Assert.Equal(Docs.NonZeroCount, p.PostingCount);
        Assert.True(p.BlockCount > Docs.ColumnCount, "long lists must be split into several blocks");
    }

    /// <summary>
    /// No block exceeds MaxBlockFactor x the mean block size (1 / CentroidFraction), on a collection whose uncapped
    /// clustering does make larger blocks (so the cap is what cut them).
    /// </summary>
    [Theory]
    [InlineData(1.0)]
    [InlineData(2.0)]
    public void BlocksRespectTheSizeCap(double factor)
    {
        var options = SeismicBuildOptions.Default with { Pruning = PostingPruning.None, CentroidFraction = 0.05, MaxBlockFactor = factor };
        var index = SeismicIndex.Build(Docs, options);
        int cap = (int)Math.Ceiling(factor * 20);
        var p = index.Postings;
        int largest = 0;
        for (int b = 0; b < p.BlockCount; b++) largest = Math.Max(largest, p.BlockDocs(b).Length);
        Assert.True(largest <= cap, $"largest block {largest} above the cap {cap}");
        var uncapped = SeismicIndex.Build(Docs, options with { MaxBlockFactor = 1e9 });
        int uncappedLargest = 0;
        for (int b = 0; b < uncapped.Postings.BlockCount; b++) uncappedLargest = Math.Max(uncappedLargest, uncapped.Postings.BlockDocs(b).Length);
        Assert.True(uncappedLargest > cap, $"the test collection needs clusters above the cap (largest {uncappedLargest})");
        Assert.True(p.BlockCount > uncapped.Postings.BlockCount);
    }

    /// <summary>
    /// With alpha = 1 the summary of a block is its coordinate-wise max: every term of every document is present and
    /// the dequantised value is within half a quantisation step of the true max (so it dominates the block up to that
    /// bounded error).
    /// </summary>
    [Fact]
    public void FullEnergySummariesDominateTheirBlockWithinHalfAStep()
    {
        var index = SeismicIndex.Build(Docs, SeismicBuildOptions.Lossless);
        var s = index.Summaries;
        var p = index.Postings;
        int summarized = 0;
        for (int t = 0; t < Docs.ColumnCount; t++)
        {
            var summary = SummaryOf(index, t);
            if (p.BlockCountOf(t) == 1)
            {
                // Single-block lists keep no summary: the search scores their block directly.
                Assert.Empty(summary[0]);
                continue;
            }
            summarized++;
            for (int local = 0; local < p.BlockCountOf(t); local++)
            {
                int global = p.TermBlockStart[t] + local;
                var trueMax = new Dictionary<int, float>();
                foreach (int r in p.BlockDocs(global))
                {
                    int d = index.RowDocuments[r];
                    var row = Docs.Row(d);
                    for (int i = 0; i < row.NonZeroCount; i++)
                        trueMax[row.Indices[i]] = Math.Max(trueMax.GetValueOrDefault(row.Indices[i]), row.Values[i]);
                }
                float halfStep = s.BlockScale[global] / 2 + 1e-5f * Math.Max(1f, s.BlockMin[global]);
                Assert.Equal(trueMax.Count, summary[local].Count);
                foreach (var (term, max) in trueMax)
                {
                    Assert.True(summary[local].TryGetValue(term, out float value), $"term {t} block {local} summary lacks component {term}");
                    Assert.True(Math.Abs(value - max) <= halfStep, $"term {t} block {local} component {term}: summary {value} vs max {max} (step {s.BlockScale[global]})");
                }
            }
        }
        Assert.True(summarized > 100, $"only {summarized} lists have several blocks");
    }

    /// <summary>
    /// With alpha below 1 each summary keeps exactly the smallest heaviest-first prefix of the block's coordinate-wise
    /// max holding alpha of its L1 mass, plus the list's own term (every document of the block has it), computed here
    /// independently from the documents' float32 weights; with a per-block cap the prefix stops at the cap.
    /// </summary>
    [Theory]
    [InlineData(0.4, 0)]
    [InlineData(0.75, 0)]
    [InlineData(0.75, 6)]
    public void EnergyPruningKeepsTheSmallestHeaviestPrefix(double alpha, int cap)
    {
        var index = SeismicIndex.Build(Docs, SeismicBuildOptions.Lossless with
        {
            Pruning = PostingPruning.FixedLambda,
            Lambda = 100,
            SummaryEnergy = alpha,
            SummaryMaxEntries = cap,
        });
        var p = index.Postings;
        long fullEntries = 0;
        for (int t = 0; t < Docs.ColumnCount; t++)
        {
            var summary = SummaryOf(index, t);
            if (p.BlockCountOf(t) == 1) continue;
            for (int local = 0; local < p.BlockCountOf(t); local++)
            {
                var trueMax = new Dictionary<int, float>();
                foreach (int r in p.BlockDocs(p.TermBlockStart[t] + local))
                {
                    int d = index.RowDocuments[r];
                    var row = Docs.Row(d);
                    for (int i = 0; i < row.NonZeroCount; i++)
                        trueMax[row.Indices[i]] = Math.Max(trueMax.GetValueOrDefault(row.Indices[i]), row.Values[i]);
                }
                fullEntries += trueMax.Count;
                var ordered = trueMax.OrderByDescending(e => e.Value).ThenBy(e => e.Key).ToList();
                double total = ordered.Sum(e => (double)e.Value), sum = 0;
                var expected = new HashSet<int>();
                foreach (var (term, value) in ordered)
                {
                    if (expected.Count > 0 && sum >= alpha * total) break;
                    if (cap > 0 && expected.Count == cap) break;
                    expected.Add(term);
                    sum += value;
                }
                expected.Add(t);
                Assert.True(cap == 0 || summary[local].Count <= cap + 1, $"term {t} block {local}: {summary[local].Count} entries above the cap {cap} + the list term");
                Assert.True(expected.SetEquals(summary[local].Keys),
                    $"term {t} block {local}: kept [{string.Join(",", summary[local].Keys.Order())}], expected [{string.Join(",", expected.Order())}]");
            }
        }
        Assert.True(index.Summaries.EntryCount < fullEntries * (alpha + 0.2), $"{index.Summaries.EntryCount} entries of {fullEntries}");
    }

    [Fact]
    public void FixedLambdaKeepsTheHeaviestPostingsOfEachList()
    {
        const int lambda = 25;
        var index = SeismicIndex.Build(Docs, SeismicBuildOptions.Default with { Pruning = PostingPruning.FixedLambda, Lambda = lambda, Values = ForwardValueStorage.Float32 });
        var holders = Holders(Docs);
        for (int t = 0; t < Docs.ColumnCount; t++)
        {
            var kept = KeptDocs(index, t);
            Assert.Equal(Math.Min(lambda, holders[t].Count), kept.Count);
            var weights = holders[t].ToDictionary(d => d, d => Weight(Docs, d, t));
            float minKept = kept.Select(d => weights[d]).DefaultIfEmpty(float.MaxValue).Min();
            float maxDropped = holders[t].Where(d => !kept.Contains(d)).Select(d => weights[d]).DefaultIfEmpty(float.MinValue).Max();
            Assert.True(minKept >= maxDropped, $"term {t}: dropped weight {maxDropped} above kept {minKept}");
        }
    }

    [Fact]
    public void GlobalBudgetKeepsTheLargestPostingsUnderThePerListCap()
    {
        var options = SeismicBuildOptions.Default with { Pruning = PostingPruning.GlobalBudget, AvgPostings = 10, MaxFraction = 2.5, Values = ForwardValueStorage.Float32 };
        var index = SeismicIndex.Build(Docs, options);
        long budget = (long)(options.AvgPostings * Docs.ColumnCount);
        int cap = (int)(options.MaxFraction * options.AvgPostings);
        Assert.Equal(budget, index.Postings.PostingCount);
        var holders = Holders(Docs);
        float minKept = float.MaxValue, maxDroppedUncapped = float.MinValue;
        for (int t = 0; t < Docs.ColumnCount; t++)
        {
            var kept = KeptDocs(index, t);
            Assert.True(kept.Count <= cap, $"term {t} keeps {kept.Count} > cap {cap}");
            foreach (int d in kept) minKept = Math.Min(minKept, Weight(Docs, d, t));
            // Postings dropped from a list that still had room under the cap must be no heavier than any kept one.
            if (kept.Count < cap)
                foreach (int d in holders[t].Where(d => !kept.Contains(d))) maxDroppedUncapped = Math.Max(maxDroppedUncapped, Weight(Docs, d, t));
        }
        Assert.True(minKept >= maxDroppedUncapped, $"dropped {maxDroppedUncapped} while keeping {minKept}");
    }

    [Fact]
    public void BuildIsDeterministicForASeed()
    {
        var a = SeismicIndex.Build(Docs, SeismicBuildOptions.Default with { Pruning = PostingPruning.FixedLambda, Lambda = 50, Threads = 2 });
        var b = SeismicIndex.Build(Docs, SeismicBuildOptions.Default with { Pruning = PostingPruning.FixedLambda, Lambda = 50, Threads = 1 });
        Assert.Equal(a.Postings.DocIds, b.Postings.DocIds);
        Assert.Equal(a.Postings.BlockDocStart, b.Postings.BlockDocStart);
        Assert.Equal(a.Summaries.RawArrays.Codes, b.Summaries.RawArrays.Codes);
    }

    private static List<int>[] Holders(SparseMatrix docs)
    {
        var holders = Enumerable.Range(0, docs.ColumnCount).Select(_ => new List<int>()).ToArray();
        for (int d = 0; d < docs.RowCount; d++)
        {
            var row = docs.Row(d);
            for (int i = 0; i < row.NonZeroCount; i++) holders[row.Indices[i]].Add(d);
        }
        return holders;
    }

    private static HashSet<int> KeptDocs(SeismicIndex index, int term)
    {
        var kept = new HashSet<int>();
        var p = index.Postings;
        for (int b = p.TermBlockStart[term]; b < p.TermBlockStart[term + 1]; b++)
            foreach (int row in p.BlockDocs(b)) Assert.True(kept.Add(index.RowDocuments[row]), $"term {term}: row {row} in two blocks");
        return kept;
    }

    private static float Weight(SparseMatrix docs, int doc, int term)
    {
        var row = docs.Row(doc);
        int i = row.Indices.IndexOf(term);
        return row.Values[i];
    }

    /// <summary>Dequantised summaries of term's blocks: local block -> (component -> value).</summary>
    internal static List<Dictionary<int, float>> SummaryOf(SeismicIndex index, int term)
    {
        var s = index.Summaries;
        int first = index.Postings.TermBlockStart[term];
        var result = Enumerable.Range(0, index.Postings.BlockCountOf(term)).Select(_ => new Dictionary<int, float>()).ToList();
        for (int c = s.TermComponentStart[term]; c < s.TermComponentStart[term + 1]; c++)
        {
            var (start, end) = s.ComponentEntries(term, c);
            for (int e = start; e < end; e++)
                result[s.EntryBlock(e)][s.ComponentTerm(c)] = s.Dequantize(first + s.EntryBlock(e), s.EntryCode(e));
        }
        return result;
    }
}
