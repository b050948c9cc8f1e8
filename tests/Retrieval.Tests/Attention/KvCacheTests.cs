using Retrieval.Index.Attention;
using Retrieval.Index.Errors;
using Retrieval.Query.Attention;

namespace Retrieval.Tests.Attention;

public class KvCacheTests
{
    private static readonly AttentionIndexOptions Options = new()
    {
        TrainingNeighbors = 16,
        Connectivity = 12,
        BuildBeamWidth = 24,
        TrainingSampleRate = 0.5,
        AppendFoldBatch = 32,
    };

    /// <summary>One layer, 4 query heads sharing 2 KV heads (GQA), each query head with its own queries.</summary>
    private static (KvCache Cache, long Id, SyntheticHead[] Heads) BuiltGqaCache(int keys = 1500, KvCacheOptions? options = null)
    {
        var cache = new KvCache(options);
        long id = cache.CreateSequence(new KvSequenceShape(1, 4, 2, 16));
        var heads = new SyntheticHead[4];
        for (int h = 0; h < 4; h++)
        {
            // Query heads 0,1 read KV head 0 (seed 100) and 2,3 read KV head 1 (seed 200), with their own queries.
            heads[h] = new SyntheticHead(keys, 800, 16, h < 2 ? 100 : 200);
            var own = new SyntheticHead(keys, 800, 16, 1000 + h);
            Array.Copy(own.TrainingQueries, heads[h].TrainingQueries, own.TrainingQueries.Length);
            Array.Copy(own.TestQueries, heads[h].TestQueries, own.TestQueries.Length);
        }
        cache.SetKeyValues(id, 0, 0, heads[0].Keys, heads[0].Values, keys);
        cache.SetKeyValues(id, 0, 1, heads[2].Keys, heads[2].Values, keys);
        for (int h = 0; h < 4; h++) cache.BuildHead(id, new KvHeadRef(0, h), heads[h].TrainingQueries, 800, Options);
        return (cache, id, heads);
    }

    private static readonly KvHeadRef[] AllHeads = [new(0, 0), new(0, 1), new(0, 2), new(0, 3)];

    [Fact]
    public void BatchedSearchEqualsOneHeadAtATimeAndFindsTheNeighbours()
    {
        var (cache, id, heads) = BuiltGqaCache();
        int k = 10;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = 64 };
        var queries = new float[4 * 16];
        for (int h = 0; h < 4; h++) heads[h].TestQuery(0).CopyTo(queries.AsSpan(h * 16));
        var ids = new int[40];
        var scores = new float[40];
        var scored = new int[4];
        cache.Search(id, AllHeads, queries, k, parameters, ids, scores, scored);
        for (int h = 0; h < 4; h++)
        {
            var one = new int[10];
            cache.Search(id, [AllHeads[h]], queries.AsSpan(h * 16, 16), k, parameters, one, new float[10]);
            Assert.Equal(one, ids.AsSpan(h * 10, 10).ToArray());
            var exact = SyntheticHead.ExactTopK(heads[h].Keys, 1500, 16, heads[h].TestQuery(0), 10);
            Assert.True(one.Intersect(exact).Count() >= 8, $"head {h}: {one.Intersect(exact).Count()}/10 of the exact neighbours");
            Assert.InRange(scored[h], 10, 1500);
        }
        // GQA: one copy of K/V per KV head, one graph per query head.
        Assert.NotSame(cache.HeadIndex(id, new(0, 0)).Graph, cache.HeadIndex(id, new(0, 1)).Graph);
        Assert.Same(cache.HeadIndex(id, new(0, 0)).Store, cache.HeadIndex(id, new(0, 1)).Store);
        Assert.NotSame(cache.HeadIndex(id, new(0, 0)).Store, cache.HeadIndex(id, new(0, 2)).Store);
    }

    [Fact]
    public void AttendMergesWithTheStaticPartIntoFullAttention()
    {
        // Beam as wide as the cache: retrieval is exact, so merged attention must equal full attention.
        var (cache, id, heads) = BuiltGqaCache(keys: 600);
        int k = 600 - 4 - 32;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = 600, SinkTokens = 4, WindowTokens = 32 };
        var queries = new float[4 * 16];
        for (int h = 0; h < 4; h++) heads[h].TestQuery(1).CopyTo(queries.AsSpan(h * 16));
        var outputs = new float[4 * 16];
        var lse = new float[4];
        cache.Attend(id, AllHeads, queries, k, parameters, outputs, lse);
        for (int h = 0; h < 4; h++)
        {
            var store = cache.HeadIndex(id, AllHeads[h]).Store;
            var q = queries.AsSpan(h * 16, 16);
            float scale = 0.25f;
            var sink = new float[16];
            var window = new float[16];
            var full = new float[16];
            float lseSink = PartialAttention.OverRange(store, q, 0, 4, scale, sink);
            float lseWindow = PartialAttention.OverRange(store, q, 600 - 32, 32, scale, window);
            var staticPart = new float[16];
            float lseStatic = AttentionMerge.Merge(sink, lseSink, window, lseWindow, staticPart);
            var merged = new float[16];
            AttentionMerge.Merge(staticPart, lseStatic, outputs.AsSpan(h * 16, 16), lse[h], merged);
            float lseFull = PartialAttention.OverRange(store, q, 0, 600, scale, full);
            for (int j = 0; j < 16; j++) Assert.Equal(full[j], merged[j], 1e-5f);
            Assert.True(lse[h] < lseFull);
        }
    }

    [Fact]
    public void AppendedTokensAreVisibleToEveryHeadOfTheGroupAtOnce()
    {
        var (cache, id, heads) = BuiltGqaCache();
        int k = 3;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = 32 };
        var query = heads[1].TestQuery(2).ToArray();
        var strong = query.Select(x => 10 * x).ToArray();
        var zeros = new float[16];
        // One decode step: KV head 0 gets the strong key, KV head 1 a zero key.
        int position = cache.AppendStep(id, 0, strong.Concat(zeros).ToArray(), new float[32]);
        Assert.Equal(1500, position);
        Assert.Equal(1501, cache.TokenCount(id, 0, 0));
        Assert.Equal(1501, cache.TokenCount(id, 0, 1));
        var ids = new int[6];
        cache.Search(id, [new(0, 0), new(0, 1)], query.Concat(query).ToArray(), k, parameters, ids, new float[6]);
        Assert.Equal(position, ids[0]);
        Assert.Equal(position, ids[3]);

        // Past the fold batch the keys move into the graphs and stay visible.
        var rng = new Random(4);
        for (int step = 0; step < 40; step++)
        {
            var kv = Enumerable.Range(0, 32).Select(_ => (float)SyntheticHead.Gaussian(rng)).ToArray();
            cache.AppendStep(id, 0, kv, kv);
        }
        Assert.True(cache.HeadIndex(id, new(0, 0)).PendingCount < Options.AppendFoldBatch);
        Assert.True(cache.HeadIndex(id, new(0, 0)).GraphCount > 1500);
        cache.Search(id, [new(0, 0), new(0, 1)], query.Concat(query).ToArray(), k, parameters, ids, new float[6]);
        Assert.Equal(position, ids[0]);
        Assert.Equal(position, ids[3]);
    }

    [Fact]
    public void MemoryIsCountedLimitedAndFreedOnRelease()
    {
        var (cache, id, _) = BuiltGqaCache();
        long bytes = cache.MemoryBytes(id);
        // Keys and values of 2 KV heads (2 x 2 x 1500 x 16 floats) plus 4 graphs.
        Assert.True(bytes >= 2 * 2 * 1500 * 16 * 4 + 4 * 1500 * 12 * 4, $"{bytes} bytes");
        Assert.Equal(bytes, cache.TotalMemoryBytes);
        cache.Release(id);
        Assert.Equal(0, cache.TotalMemoryBytes);
        var ex = Assert.Throws<RetrievalException>(() => cache.MemoryBytes(id));
        Assert.Equal(ErrorKind.NotFound, ex.Kind);

        var small = new KvCache(new KvCacheOptions { MemoryLimitBytes = 100_000 });
        long seq = small.CreateSequence(new KvSequenceShape(1, 1, 1, 16));
        var head = new SyntheticHead(1500, 100, 16, 1);
        ex = Assert.Throws<RetrievalException>(() => small.SetKeyValues(seq, 0, 0, head.Keys, head.Values, 1500));
        Assert.Equal(ErrorKind.ResourceExhausted, ex.Kind);
        Assert.Contains("limit", ex.Message);
        Assert.Equal(0, small.TotalMemoryBytes);

        // An append whose growth does not fit is refused whole: nothing appended, nothing counted.
        var tight = new KvCache(new KvCacheOptions { MemoryLimitBytes = 2 * 1500 * 16 * 4 + 1500 * 20 * 4 });
        long tightId = tight.CreateSequence(new KvSequenceShape(1, 1, 1, 16));
        tight.SetKeyValues(tightId, 0, 0, head.Keys, head.Values, 1500);
        tight.BuildHead(tightId, new KvHeadRef(0, 0), head.TrainingQueries, 100, Options with { Connectivity = 8 });
        long held = tight.TotalMemoryBytes;
        ex = Assert.Throws<RetrievalException>(() => tight.Append(tightId, 0, 0, new float[16], new float[16]));
        Assert.Equal(ErrorKind.ResourceExhausted, ex.Kind);
        Assert.Equal(1500, tight.TokenCount(tightId, 0, 0));
        Assert.Equal(held, tight.TotalMemoryBytes);
    }
}
