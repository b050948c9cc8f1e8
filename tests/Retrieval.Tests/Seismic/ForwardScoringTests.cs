using Retrieval.Index.Search;
using Retrieval.Index.Seismic;

namespace Retrieval.Tests.Seismic;

/// <summary>
/// The forward index's block scorer (gathered query weights times in-register float16 conversion) against a
/// double-precision reference over the stored (rounded) weights, for both term-id widths and every row length that
/// exercises the vector body and the scalar tail, including subnormal and zero half weights.
/// </summary>
public class ForwardScoringTests
{
    [Theory]
    [InlineData(300)]
    [InlineData(70_000)]
    public void BlockScoresEqualReferenceDotProducts(int vocabulary)
    {
        var rng = new Random(7);
        const int docs = 60;
        var offsets = new long[docs + 1];
        var termList = new List<int>();
        var valueList = new List<Half>();
        for (int d = 0; d < docs; d++)
        {
            int length = d % 41; // 0..40: empty rows, pure tails, one and several 8-wide steps
            var terms = new SortedSet<int>();
            while (terms.Count < length) terms.Add(rng.Next(vocabulary));
            foreach (int t in terms)
            {
                termList.Add(t);
                double pick = rng.NextDouble();
                valueList.Add(pick < 0.05 ? (Half)0f : pick < 0.1 ? BitConverter.UInt16BitsToHalf((ushort)rng.Next(1, 0x400)) : (Half)(float)(rng.NextDouble() * 30));
            }
            offsets[d + 1] = termList.Count;
        }
        Array termArray = vocabulary <= 65_536 ? termList.Select(t => (ushort)t).ToArray() : termList.ToArray();
        var forward = ForwardIndex.Create(offsets, vocabulary, termArray, valueList.ToArray());
        Assert.Equal(vocabulary > 65_536, forward.WideTermIds);

        var dense = new float[vocabulary];
        for (int t = 0; t < vocabulary; t++) dense[t] = rng.NextDouble() < 0.5 ? 0f : (float)rng.NextDouble() * 5;
        var all = Enumerable.Range(0, docs).ToArray();
        var heap = new TopKHeap(docs);
        int scored = forward.ScoreUnvisited(all.AsSpan(0, 30), all.AsSpan(30), dense, new VisitedDocuments(docs), heap, new float[64], all);
        Assert.Equal(30, scored);
        scored = forward.ScoreUnvisited(all.AsSpan(30), default, dense, new VisitedDocuments(docs), heap, new float[64], all);
        Assert.Equal(30, scored);
        var ids = new int[docs];
        var scores = new float[docs];
        Assert.Equal(docs, heap.DrainSorted(ids, scores));
        for (int i = 0; i < docs; i++)
        {
            int d = ids[i];
            double reference = 0;
            for (long e = offsets[d]; e < offsets[d + 1]; e++) reference += (double)dense[termList[(int)e]] * (double)(float)valueList[(int)e];
            Assert.True(Math.Abs(scores[i] - reference) <= 1e-5 * Math.Max(1, Math.Abs(reference)),
                $"doc {d}: scored {scores[i]}, reference {reference}");
            Assert.Equal(forward.Dot(d, dense), scores[i], 1e-3f * Math.Max(1, Math.Abs(scores[i])));
        }
    }

    [Fact]
    public void DocumentsAlreadyVisitedAreNotScoredAgain()
    {
        var forward = ForwardIndex.Create([0, 1, 2], 4, new ushort[] { 1, 2 }, new[] { (Half)1f, (Half)2f });
        var visited = new VisitedDocuments(2);
        var heap = new TopKHeap(2);
        var dense = new float[] { 0, 1, 1, 0 };
        Assert.Equal(2, forward.ScoreUnvisited([0, 1], [1], dense, visited, heap, new float[4], [0, 1]));
        Assert.Equal(0, forward.ScoreUnvisited([1, 0], default, dense, visited, heap, new float[4], [0, 1]));
    }

    /// <summary>Rows are scored, but the heap holds the documents they map to (visits stay per row).</summary>
    [Fact]
    public void HeapReceivesTheRowsDocumentIds()
    {
        var forward = ForwardIndex.Create([0, 1, 2, 3], 4, new ushort[] { 1, 2, 3 }, new[] { (Half)1f, (Half)2f, (Half)3f });
        var heap = new TopKHeap(3);
        var dense = new float[] { 0, 1, 1, 1 };
        Assert.Equal(3, forward.ScoreUnvisited([0, 1, 2], default, dense, new VisitedDocuments(3), heap, new float[4], [7, 5, 6]));
        var ids = new int[3];
        var scores = new float[3];
        Assert.Equal(3, heap.DrainSorted(ids, scores));
        Assert.Equal([6, 5, 7], ids);
        Assert.Equal([3f, 2f, 1f], scores);
    }
}
