using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

/// <summary>
/// The block-locality row order renumbers documents for memory locality only: it must be a permutation, keep every
/// row byte-identical to its input document, group rows by home block, and leave search results (ids, scores, tie
/// order) and work counters exactly as with input order.
/// </summary>
public class SeismicRowOrderTests
{
    // Few weight levels make many exact score ties, so tie-breaking on input ids is exercised.
    private static readonly SparseMatrix Docs = SeismicTestData.Collection(31, rows: 1500, vocabulary: 300, maxNnz: 25, fewLevels: true);
    private static readonly SparseMatrix Queries = SeismicTestData.Collection(32, rows: 60, vocabulary: 300, maxNnz: 6);
    private static readonly SeismicBuildOptions Options = SeismicBuildOptions.Default with
    {
        Pruning = PostingPruning.FixedLambda,
        Lambda = 120,
        Values = ForwardValueStorage.Float32,
    };

    [Fact]
    public void BlockLocalityOrderGivesIdenticalResultsAndWork()
    {
        var input = SeismicIndex.Build(Docs, Options with { RowOrder = ForwardRowOrder.Input });
        var local = SeismicIndex.Build(Docs, Options);
        Assert.Equal(Enumerable.Range(0, Docs.RowCount), input.RowDocuments);
        Assert.NotEqual(Enumerable.Range(0, Docs.RowCount), local.RowDocuments);
        foreach (var (cut, heap) in new[] { (2, 0.7f), (4, 0.9f), (6, 1.0f), (30, 0f) })
        {
            var p = new SeismicSearchParameters { QueryCut = cut, HeapFactor = heap };
            var a = input.Search(Queries, 10, p, threads: 1, out var workA);
            var b = local.Search(Queries, 10, p, threads: 1, out var workB);
            Assert.Equal(a.Ids, b.Ids);
            Assert.Equal(a.Scores, b.Scores);
            Assert.Equal(workA.DocumentsScored, workB.DocumentsScored);
            Assert.Equal(workA.BlocksScored, workB.BlocksScored);
            Assert.Equal(workA.BlocksSkipped, workB.BlocksSkipped);
        }
    }

    [Fact]
    public void RowsArePermutedInputDocumentsGroupedByHomeBlock()
    {
        var index = SeismicIndex.Build(Docs, Options);
        var rowDocuments = index.RowDocuments;
        Assert.Equal(Enumerable.Range(0, Docs.RowCount), rowDocuments.Order());
        var terms = new int[64];
        var weights = new float[64];
        for (int r = 0; r < rowDocuments.Length; r++)
        {
            int n = index.Forward.CopyRow(r, terms, weights);
            var doc = Docs.Row(rowDocuments[r]);
            Assert.Equal(doc.Indices.ToArray(), terms[..n]);
            Assert.Equal(doc.Values.ToArray(), weights[..n]);
        }

        // Each row's home: its block in the list of its heaviest kept term (ties: lower term).
        var p = index.Postings;
        var home = new int[rowDocuments.Length];
        var best = new float[rowDocuments.Length];
        home.AsSpan().Fill(-1);
        for (int t = 0; t < p.VocabularySize; t++)
            for (int b = p.TermBlockStart[t]; b < p.TermBlockStart[t + 1]; b++)
                foreach (int row in p.BlockDocs(b))
                {
                    float w = Weight(index, row, t);
                    if (home[row] < 0 || w > best[row]) (home[row], best[row]) = (b, w);
                }
        // Rows with a home come first, ordered by home block, input id inside one.
        for (int r = 1; r < home.Length; r++)
        {
            long previous = home[r - 1] < 0 ? long.MaxValue : home[r - 1], current = home[r] < 0 ? long.MaxValue : home[r];
            Assert.True(previous < current || (previous == current && rowDocuments[r - 1] < rowDocuments[r]),
                $"rows {r - 1} and {r}: homes {home[r - 1]}, {home[r]}, documents {rowDocuments[r - 1]}, {rowDocuments[r]}");
        }
    }

    [Fact]
    public void RowOrderRoundTripsThroughTheManifest()
    {
        foreach (var order in new[] { ForwardRowOrder.Input, ForwardRowOrder.BlockLocality })
        {
            var built = SeismicIndex.Build(Docs, Options with { RowOrder = order });
            var dir = Path.Combine(TestData.TempDirectory(), "idx");
            built.Save(dir);
            var opened = SeismicIndex.Open(dir);
            Assert.Equal(order, opened.Options.RowOrder);
            Assert.Equal(built.RowDocuments, opened.RowDocuments);
            var p = new SeismicSearchParameters { QueryCut = 4, HeapFactor = 0.8f };
            Assert.Equal(built.Search(Queries, 10, p, threads: 1).Ids, opened.Search(Queries, 10, p, threads: 1).Ids);
        }
    }

    private static float Weight(SeismicIndex index, int row, int term)
    {
        var terms = new int[64];
        var weights = new float[64];
        int n = index.Forward.CopyRow(row, terms, weights);
        return weights[Array.IndexOf(terms, term, 0, n)];
    }
}
