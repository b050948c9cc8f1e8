using Retrieval.Index.Attention;

namespace Retrieval.Tests.Attention;

/// <summary>
/// The shared per-KV-head node block: one copy of the keys however many query-head graphs sit beside them, graphs
/// that survive the block being re-laid out (another head attached, appends past capacity), and slots reused when
/// a head is rebuilt.
/// </summary>
public class NodeBlockTests
{
    private static readonly AttentionIndexOptions Options = new()
    {
        TrainingNeighbors = 16,
        Connectivity = 12,
        BuildBeamWidth = 24,
        TrainingSampleRate = 0.5,
        AppendFoldBatch = 64,
    };

    private static double Recall(AttentionHeadIndex index, SyntheticHead head, KeyValueStore store, int first, int count)
    {
        int k = 10;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = 64 };
        var scratch = new BeamSearchScratch();
        var ids = new int[10];
        var scores = new float[10];
        var keys = SyntheticHead.AllKeys(store);
        double recall = 0;
        for (int q = first; q < first + count; q++)
        {
            index.SearchOne(head.TestQuery(q), k, parameters, ids, scores, scratch);
            recall += ids.Intersect(SyntheticHead.ExactTopK(keys, store.Count, store.Dimension, head.TestQuery(q), 10)).Count() / 10.0;
        }
        return recall / count;
    }

    [Fact]
    public void QueryHeadsOfOneKvHeadShareOneKeyCopyAndKeepTheirOwnGraphs()
    {
        // Two query heads of one GQA group: same keys, different training queries (another seed's queries).
        var head = new SyntheticHead(3000, 1500, 16, 31);
        var other = new SyntheticHead(3000, 1500, 16, 32);
        var store = new KeyValueStore(head.Dimension, head.Keys, head.Values, head.KeyCount);
        long keyBytes = store.MemoryBytes;
        var first = AttentionHeadIndex.Build(store, head.TrainingQueries, head.QueryCount, Options);
        var firstLists = Enumerable.Range(0, 50).Select(i => first.Graph.Neighbors(i).ToArray()).ToArray();
        double firstRecall = Recall(first, head, store, 0, 30);

        var second = AttentionHeadIndex.Build(store, other.TrainingQueries, other.QueryCount, Options);
        Assert.Equal(keyBytes, store.MemoryBytes);
        Assert.Equal(64 + 2 * 64, store.Block.StrideBytes); // the key and one slot per head, each a whole cache line here
        for (int i = 0; i < 50; i++) Assert.Equal(firstLists[i], first.Graph.Neighbors(i).ToArray());
        Assert.Equal(firstRecall, Recall(first, head, store, 0, 30));
        Assert.True(Enumerable.Range(0, 50).Any(i => !first.Graph.Neighbors(i).SequenceEqual(second.Graph.Neighbors(i))),
            "the heads' graphs differ");

        // Appends past the block's capacity re-lay it out; both graphs take the new keys.
        var query = head.TestQuery(0).ToArray();
        int strong = store.Append(query.Select(x => 10 * x).ToArray(), new float[head.Dimension]);
        var rng = new Random(9);
        var more = new float[300 * head.Dimension];
        for (int i = 0; i < more.Length; i++) more[i] = (float)SyntheticHead.Gaussian(rng);
        store.Append(more, new float[more.Length]);
        first.FoldAppended(new BeamSearchScratch());
        Assert.Equal(store.Count, first.GraphCount);
        Assert.Equal(301, second.PendingCount);
        var ids = new int[5];
        var scores = new float[5];
        int k = 5;
        var parameters = new AttentionSearchParameters { SearchBeamWidth = 32 };
        first.SearchOne(query, k, parameters, ids, scores, new BeamSearchScratch());
        Assert.Equal(strong, ids[0]);
        second.SearchOne(query, k, parameters, ids, scores, new BeamSearchScratch());
        Assert.Equal(strong, ids[0]);
        Assert.True(Recall(first, head, store, 30, 30) >= 0.9);
        Assert.True(Recall(second, other, store, 30, 30) >= 0.9);
        for (int p = 0; p < store.Count; p++) Assert.Equal(p < head.KeyCount ? head.Keys.AsSpan(p * 16, 16).ToArray() : store.Key(p).ToArray(), store.Key(p).ToArray());

        // A rebuilt head takes the released slot back instead of widening every record.
        second.ReleaseGraph();
        var rebuilt = AttentionHeadIndex.Build(store, other.TrainingQueries, other.QueryCount, Options);
        Assert.Equal(64 + 2 * 64, store.Block.StrideBytes);
        Assert.True(Recall(rebuilt, other, store, 30, 30) >= 0.9);
        Assert.True(Recall(first, head, store, 30, 30) >= 0.9);
    }
}
