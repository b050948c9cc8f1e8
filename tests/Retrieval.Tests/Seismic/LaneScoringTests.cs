using Retrieval.Index.Search;
using Retrieval.Index.Seismic;

namespace Retrieval.Tests.Seismic;

/// <summary>
/// Gather-free scoring (<see cref="QueryLanes"/>, AVX-512) and scoring through packed posting row references against
/// a double-precision reference over the stored weights: float16 and float32 rows of every length from empty to
/// several 32-lane steps, queries of 1 to 31 terms (query terms inside and outside the rows, term 0 included), and
/// the rows at the end of the array, which take the gather path.
/// </summary>
public class LaneScoringTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LaneScoresEqualReferenceDotProducts(bool float32)
    {
        const int vocabulary = 200, docs = 120;
        var rng = new Random(11);
        var offsets = new long[docs + 1];
        var termList = new List<int>();
        var valueList = new List<float>();
        for (int d = 0; d < docs; d++)
        {
            int length = d % 100; // 0..99: tails, one, two and three 32-lane steps
            var terms = new SortedSet<int>();
            while (terms.Count < length) terms.Add(rng.Next(vocabulary));
            foreach (int t in terms)
            {
                termList.Add(t);
                valueList.Add(rng.NextDouble() < 0.05 ? 0f : (float)(Half)(float)(rng.NextDouble() * 20));
            }
            offsets[d + 1] = termList.Count;
        }
        var forward = SixteenBitForward(offsets, vocabulary, termList, valueList, float32);
        var all = Enumerable.Range(0, docs).ToArray();
        var postingRows = all.Concat(all).ToArray();
        var refs = ForwardIndex.RowRefs(forward, postingRows)!;
        var lanes = new QueryLanes();
        var dense = new float[vocabulary];
        for (int terms = 1; terms <= 33; terms++)
        {
            var queryTerms = new SortedSet<int> { 0 };
            while (queryTerms.Count < terms) queryTerms.Add(rng.Next(vocabulary));
            var qt = queryTerms.ToArray();
            var qw = qt.Select(_ => (float)rng.NextDouble() * 3).ToArray();
            Array.Clear(dense);
            for (int i = 0; i < qt.Length; i++) dense[qt[i]] = qw[i];
            bool prepared = lanes.Set(qt, qw);
            Assert.Equal(QueryLanes.IsSupported && terms <= QueryLanes.MaxTerms, prepared);

            foreach (var (useLanes, useRefs) in new[] { (true, false), (true, true), (false, true) })
            {
                var heap = new TopKHeap(docs);
                var visited = new VisitedDocuments(docs);
                int scored = useRefs
                    ? forward.ScoreUnvisited(all, default, dense, visited, heap, new float[128], all, useLanes && prepared ? lanes : null,
                        refs.AsSpan(docs), default)
                    : forward.ScoreUnvisited(all, default, dense, visited, heap, new float[128], all, useLanes && prepared ? lanes : null);
                Assert.Equal(docs, scored);
                var ids = new int[docs];
                var scores = new float[docs];
                Assert.Equal(docs, heap.DrainSorted(ids, scores));
                for (int i = 0; i < docs; i++)
                {
                    int d = ids[i];
                    double reference = 0;
                    for (long e = offsets[d]; e < offsets[d + 1]; e++) reference += (double)dense[termList[(int)e]] * valueList[(int)e];
                    Assert.True(Math.Abs(scores[i] - reference) <= 1e-5 * Math.Max(1, Math.Abs(reference)),
                        $"{terms} query terms, lanes {useLanes}, refs {useRefs}, doc {d} (length {offsets[d + 1] - offsets[d]}): scored {scores[i]}, reference {reference}");
                }
            }
        }
    }

    /// <summary>
    /// The query-term hash over the full 16-bit term range: rows hold terms from 0 (the small ids empty slots are
    /// filled with) to 65,535, queries 1 to 31 terms; matching by hash and by compare must give the reference scores.
    /// </summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void HashedMatchingEqualsComparedMatchingOverSixteenBitTerms(bool float32)
    {
        Skip.IfNot(QueryLanes.IsSupported, "AVX-512 lane scoring is not supported on this machine");
        const int vocabulary = 65_536, docs = 200;
        var rng = new Random(23);
        var offsets = new long[docs + 1];
        var termList = new List<int>();
        var valueList = new List<float>();
        var queryTerms = new SortedSet<int> { 0, 1, 65_535 };
        while (queryTerms.Count < 64) queryTerms.Add(rng.Next(vocabulary));
        var pool = queryTerms.ToArray();
        for (int d = 0; d < docs; d++)
        {
            int length = d % 90;
            var terms = new SortedSet<int>();
            // Half the entries from the query pool (so rows match), the rest small ids (sentinel-like) and random ids.
            while (terms.Count < length)
                terms.Add(rng.Next(3) switch { 0 => pool[rng.Next(pool.Length)], 1 => rng.Next(64), _ => rng.Next(vocabulary) });
            foreach (int t in terms)
            {
                termList.Add(t);
                valueList.Add((float)(Half)(float)(rng.NextDouble() * 20));
            }
            offsets[d + 1] = termList.Count;
        }
        var forward = SixteenBitForward(offsets, vocabulary, termList, valueList, float32);
        var all = Enumerable.Range(0, docs).ToArray();
        var refs = ForwardIndex.RowRefs(forward, all)!;
        var lanes = new QueryLanes();
        var dense = new float[vocabulary];
        int hashedQueries = 0;
        for (int round = 0; round < 62; round++)
        {
            int count = 1 + round % 31;
            var chosen = new SortedSet<int>();
            while (chosen.Count < count) chosen.Add(pool[rng.Next(pool.Length)]);
            var qt = chosen.ToArray();
            var qw = qt.Select(_ => 0.1f + (float)rng.NextDouble() * 3).ToArray();
            Array.Clear(dense);
            for (int i = 0; i < qt.Length; i++) dense[qt[i]] = qw[i];
            foreach (bool allowHash in new[] { true, false })
            {
                Assert.True(lanes.Set(qt, qw, allowHash));
                if (!allowHash) Assert.False(lanes.Hashed);
                else if (count <= 8) Assert.True(lanes.Hashed, $"a {count}-term query found no collision-free multiplier");
                if (lanes.Hashed) hashedQueries++;
                var heap = new TopKHeap(docs);
                Assert.Equal(docs, forward.ScoreUnvisited(all, default, dense, new VisitedDocuments(docs), heap, new float[128], all, lanes,
                    refs, default));
                var ids = new int[docs];
                var scores = new float[docs];
                heap.DrainSorted(ids, scores);
                for (int i = 0; i < docs; i++)
                {
                    int d = ids[i];
                    double reference = 0;
                    for (long e = offsets[d]; e < offsets[d + 1]; e++) reference += (double)dense[termList[(int)e]] * valueList[(int)e];
                    Assert.True(Math.Abs(scores[i] - reference) <= 1e-5 * Math.Max(1, Math.Abs(reference)),
                        $"{count} query terms, hash {lanes.Hashed}, doc {d}: scored {scores[i]}, reference {reference}");
                }
            }
        }
        Assert.True(hashedQueries >= 16, $"only {hashedQueries} queries were hashed");
    }

    /// <summary>A forward index of 16-bit term ids with float32 or float16 values (the lane kernels' layouts).</summary>
    private static ForwardIndex SixteenBitForward(long[] offsets, int vocabulary, List<int> terms, List<float> values, bool float32)
    {
        var termArray = terms.Select(t => (ushort)t).ToArray();
        return float32
            ? ForwardIndex.Create(offsets, vocabulary, termArray, values.ToArray())
            : ForwardIndex.Create(offsets, vocabulary, termArray, values.Select(v => (Half)v).ToArray());
    }

    [Fact]
    public void QueriesTheLanesCannotHoldAreRefused()
    {
        var lanes = new QueryLanes();
        Assert.False(lanes.Set([70_000], [1f]));
        Assert.Equal(0, lanes.Count);
        Assert.False(lanes.Set([3], [1e30f]));
        Assert.Equal(QueryLanes.IsSupported, lanes.Set([3, 9], [1f, 2f]));
    }

    /// <summary>A row of 255 entries or more does not fit the reference's length field: its length comes from the offsets.</summary>
    [Fact]
    public void LongRowsReadTheirLengthFromTheOffsets()
    {
        var offsets = new long[] { 0, 300, 301 };
        var terms = Enumerable.Range(0, 300).Select(t => (ushort)t).Append((ushort)5).ToArray();
        var values = Enumerable.Repeat((Half)1f, 301).ToArray();
        var forward = ForwardIndex.Create(offsets, 300, terms, values);
        var refs = ForwardIndex.RowRefs(forward, [0, 1])!;
        Assert.Equal(((uint)0 << ForwardIndex.RefLengthBits) | ForwardIndex.RefLengthEscape, refs[0]);
        Assert.Equal(((uint)300 << ForwardIndex.RefLengthBits) | 1u, refs[1]);
        var dense = new float[300];
        dense.AsSpan().Fill(1f);
        var heap = new TopKHeap(2);
        forward.ScoreUnvisited([0, 1], default, dense, new VisitedDocuments(2), heap, new float[300], [0, 1], null, refs, default);
        var ids = new int[2];
        var scores = new float[2];
        heap.DrainSorted(ids, scores);
        Assert.Equal([0, 1], ids);
        Assert.Equal([300f, 1f], scores);
    }
}
