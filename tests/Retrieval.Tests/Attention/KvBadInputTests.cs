using Retrieval.Index.Attention;
using Retrieval.Index.Errors;
using Retrieval.Query.Attention;

namespace Retrieval.Tests.Attention;

/// <summary>
/// Every bad input a KV-cache caller can send (wrong shapes or options, an empty cache, k above the searchable keys,
/// non-finite values, unknown sequences or heads, a static part larger than the sequence) gets a classified error
/// whose message names the problem.
/// </summary>
public class KvBadInputTests
{
    private static readonly AttentionIndexOptions Options = new() { TrainingNeighbors = 8, Connectivity = 8, TrainingSampleRate = 1 };
    private static readonly KvHeadRef Head0 = new(0, 0);

    private static (KvCache Cache, long Id, SyntheticHead Head) Built(int keys = 300)
    {
        var cache = new KvCache();
        long id = cache.CreateSequence(new KvSequenceShape(1, 2, 1, 8));
        var head = new SyntheticHead(keys, 100, 8, 3);
        cache.SetKeyValues(id, 0, 0, head.Keys, head.Values, keys);
        cache.BuildHead(id, Head0, head.TrainingQueries, 100, Options);
        return (cache, id, head);
    }

    private static RetrievalException Fails(ErrorKind kind, string fragment, Action action)
    {
        var ex = Assert.Throws<RetrievalException>(action);
        Assert.Equal(kind, ex.Kind);
        Assert.Contains(fragment, ex.Message, StringComparison.OrdinalIgnoreCase);
        return ex;
    }

    private static void Search(KvCache cache, long id, float[] query, int k, AttentionSearchParameters? p = null, KvHeadRef? head = null) =>
        cache.Search(id, [head ?? Head0], query, k, p ?? new AttentionSearchParameters(), new int[Math.Max(k, 0)], new float[Math.Max(k, 0)]);

    [Fact]
    public void QueryDimensionDifferentFromKeys()
    {
        var (cache, id, _) = Built();
        Fails(ErrorKind.InvalidInput, "dimension mismatch", () => Search(cache, id, new float[7], 5));
        Fails(ErrorKind.InvalidInput, "dimension mismatch", () =>
            cache.BuildHead(id, new KvHeadRef(0, 1), new float[100 * 9], 100, Options));
        var other = new KvCache();
        long otherId = other.CreateSequence(new KvSequenceShape(1, 1, 1, 8));
        Fails(ErrorKind.InvalidInput, "N x d", () => other.SetKeyValues(otherId, 0, 0, new float[10], new float[10], 2));
    }

    [Fact]
    public void EmptyCache()
    {
        var cache = new KvCache();
        long id = cache.CreateSequence(new KvSequenceShape(1, 1, 1, 8));
        Fails(ErrorKind.InvalidInput, "N = 0", () => cache.SetKeyValues(id, 0, 0, [], [], 0));
        Fails(ErrorKind.NotFound, "no keys yet", () => cache.BuildHead(id, Head0, new float[8], 1, Options));
    }

    [Fact]
    public void KLargerThanTheSearchableKeys()
    {
        var (cache, id, head) = Built();
        var q = head.TestQuery(0).ToArray();
        Fails(ErrorKind.InvalidInput, "k = 301", () => Search(cache, id, q, 301));
        Fails(ErrorKind.InvalidInput, "searchable", () => Search(cache, id, q, 250, new AttentionSearchParameters { SinkTokens = 4, WindowTokens = 64 }));
        Fails(ErrorKind.InvalidInput, "k must be >= 1", () => Search(cache, id, q, 0));
    }

    [Fact]
    public void NaNInKeysValuesOrQueries()
    {
        var cache = new KvCache();
        long id = cache.CreateSequence(new KvSequenceShape(1, 1, 1, 8));
        var head = new SyntheticHead(50, 10, 8, 3);
        head.Keys[8 * 7 + 2] = float.NaN;
        var ex = Fails(ErrorKind.InvalidInput, "NaN", () => cache.SetKeyValues(id, 0, 0, head.Keys, head.Values, 50));
        Assert.Contains("row 7", ex.Message);
        head.Keys[8 * 7 + 2] = 0;
        head.Values[3] = float.PositiveInfinity;
        Fails(ErrorKind.InvalidInput, "values contain", () => cache.SetKeyValues(id, 0, 0, head.Keys, head.Values, 50));

        var (built, bid, good) = Built();
        var q = good.TestQuery(0).ToArray();
        q[5] = float.NaN;
        Fails(ErrorKind.InvalidInput, "query contain", () => Search(built, bid, q, 5));
        var training = (float[])good.TrainingQueries.Clone();
        training[40] = float.NaN;
        Fails(ErrorKind.InvalidInput, "training queries contain", () => built.BuildHead(bid, new KvHeadRef(0, 1), training, 100, Options));
        var step = new float[8];
        step[0] = float.NaN;
        Fails(ErrorKind.InvalidInput, "appended keys contain", () => built.AppendStep(bid, 0, step, new float[8]));
        Assert.Equal(300, built.TokenCount(bid, 0, 0));
    }

    [Fact]
    public void UnknownSequenceOrHead()
    {
        var (cache, id, head) = Built();
        var q = head.TestQuery(0).ToArray();
        int k = 5;
        var p = new AttentionSearchParameters();
        Fails(ErrorKind.NotFound, "sequence 999", () => Search(cache, 999, q, k, p));
        Fails(ErrorKind.NotFound, "layer 1 does not exist", () => Search(cache, id, q, k, p, new KvHeadRef(1, 0)));
        Fails(ErrorKind.NotFound, "query head (layer 0, head 2) does not exist", () => Search(cache, id, q, k, p, new KvHeadRef(0, 2)));
        Fails(ErrorKind.NotFound, "has no index", () => Search(cache, id, q, k, p, new KvHeadRef(0, 1)));
        Fails(ErrorKind.NotFound, "KV head 3", () => cache.Append(id, 0, 3, new float[8], new float[8]));
        cache.Release(id);
        Fails(ErrorKind.NotFound, "does not exist", () => Search(cache, id, q, k, p));
        Fails(ErrorKind.NotFound, "does not exist", () => cache.Release(id));
    }

    [Fact]
    public void StaticPartLargerThanTheCache()
    {
        var (cache, id, head) = Built();
        var q = head.TestQuery(0).ToArray();
        Fails(ErrorKind.InvalidInput, "static part larger than the sequence", () =>
            Search(cache, id, q, 1, new AttentionSearchParameters { SinkTokens = 4, WindowTokens = 297 }));
        Fails(ErrorKind.InvalidInput, "static part larger", () =>
            cache.Attend(id, [Head0], q, 1, new AttentionSearchParameters { WindowTokens = 301 }, new float[8], new float[1]));
        Fails(ErrorKind.InvalidInput, "WindowTokens", () =>
            Search(cache, id, q, 1, new AttentionSearchParameters { WindowTokens = -1 }));
    }

    [Fact]
    public void BadShapesAndOptions()
    {
        var (cache, id, head) = Built();
        var q = head.TestQuery(0).ToArray();
        int k = 5;
        var p = new AttentionSearchParameters();
        Fails(ErrorKind.InvalidInput, "ids/scores", () => cache.Search(id, [Head0], q, k, p, new int[4], new float[5]));
        Fails(ErrorKind.InvalidInput, "no heads", () => cache.Search(id, [], [], k, p, [], []));
        Fails(ErrorKind.InvalidInput, "outputs", () => cache.Attend(id, [Head0], q, k, p, new float[7], new float[1]));
        Fails(ErrorKind.InvalidInput, "multiple of KvHeadCount", () => cache.CreateSequence(new KvSequenceShape(1, 3, 2, 8)));
        Fails(ErrorKind.InvalidInput, "Connectivity (M)", () => new AttentionIndexOptions { Connectivity = 1 }.Validate());
        Fails(ErrorKind.InvalidInput, "TrainingSampleRate", () => new AttentionIndexOptions { TrainingSampleRate = 0 }.Validate());
        Fails(ErrorKind.InvalidInput, "SearchBeamWidth", () => new AttentionSearchParameters { SearchBeamWidth = 0 }.Validate());
        Fails(ErrorKind.InvalidInput, "already prefilled", () => cache.SetKeyValues(id, 0, 0, head.Keys, head.Values, 300));
        Fails(ErrorKind.InvalidInput, "one key and value per KV head", () => cache.AppendStep(id, 0, new float[16], new float[16]));
    }
}

/// <summary>Options and shape checks added with the query-guided append mode and the service's static part.</summary>
public class KvOptionBadInputTests
{
    [Fact]
    public void BadAppendAndEntryOptionsAndStaticShape()
    {
        Assert.Contains("RecentQueries", Assert.Throws<RetrievalException>(() => new AttentionIndexOptions { RecentQueries = 0 }.Validate()).Message);
        Assert.Contains("RecentQueryListLength", Assert.Throws<RetrievalException>(() => new AttentionIndexOptions { RecentQueryListLength = 0 }.Validate()).Message);
        Assert.Contains("EntryPoints", Assert.Throws<RetrievalException>(() => new AttentionIndexOptions { EntryPoints = 0 }.Validate()).Message);
        Assert.Contains("AppendMode", Assert.Throws<RetrievalException>(() => new AttentionIndexOptions { AppendMode = (AppendMode)7 }.Validate()).Message);
        Assert.Contains("SinkTokens", Assert.Throws<RetrievalException>(() => new KvSequenceShape(1, 1, 1, 8) { SinkTokens = -1 }.Validate()).Message);
        Assert.Contains("WindowTokens", Assert.Throws<RetrievalException>(() => new KvSequenceShape(1, 1, 1, 8) { WindowTokens = -2 }.Validate()).Message);
    }

    [Fact]
    public void ObserveQueriesChecksDimensionAndNaN()
    {
        var cache = new KvCache();
        long id = cache.CreateSequence(new KvSequenceShape(1, 1, 1, 8));
        var head = new SyntheticHead(300, 100, 8, 3);
        cache.SetKeyValues(id, 0, 0, head.Keys, head.Values, 300);
        cache.BuildHead(id, new KvHeadRef(0, 0), head.TrainingQueries, 100, new AttentionIndexOptions { TrainingNeighbors = 8, Connectivity = 8 });
        var e = Assert.Throws<RetrievalException>(() => cache.ObserveQueries(id, [new KvHeadRef(0, 0)], new float[7]));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        var nan = new float[8];
        nan[2] = float.NaN;
        e = Assert.Throws<RetrievalException>(() => cache.ObserveQueries(id, [new KvHeadRef(0, 0)], nan));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        e = Assert.Throws<RetrievalException>(() => cache.ObserveQueries(id, [new KvHeadRef(0, 1)], new float[8]));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
    }
}
