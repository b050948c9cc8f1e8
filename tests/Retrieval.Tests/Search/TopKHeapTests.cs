using Retrieval.Index.Search;

namespace Retrieval.Tests.Search;

public class TopKHeapTests
{
    [Fact]
    public void KeepsTheKBestSortedWithTiesToLowerIds()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rng.Next(0, 300), k = rng.Next(1, 40);
            // Few distinct values so ties are frequent.
            var goodness = Enumerable.Range(0, n).Select(_ => (float)rng.Next(0, 25)).ToArray();
            var heap = new TopKHeap(k);
            for (int i = 0; i < n; i++) heap.Push(i, goodness[i]);
            var ids = new int[k];
            var got = new float[k];
            int written = heap.DrainSorted(ids, got);
            var expected = Enumerable.Range(0, n).OrderByDescending(i => goodness[i]).ThenBy(i => i).Take(k).ToArray();
            Assert.Equal(expected.Length, written);
            Assert.Equal(expected, ids.Take(written).ToArray());
            Assert.Equal(0, heap.Count);
        }
    }

    [Fact]
    public void ThresholdIsNegativeInfinityUntilFull()
    {
        var heap = new TopKHeap(2);
        heap.Push(0, 1f);
        Assert.Equal(float.NegativeInfinity, heap.Threshold);
        heap.Push(1, 3f);
        Assert.Equal(1f, heap.Threshold);
        Assert.False(heap.Push(2, 0.5f));
        Assert.True(heap.Push(3, 2f));
        Assert.Equal(2f, heap.Threshold);
    }
}
