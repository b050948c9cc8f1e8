using Retrieval.Index.Attention;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Attention;

/// <summary>
/// One sequence's cache: a <see cref="KeyValueStore"/> per (layer, KV head) and an
/// <see cref="AttentionHeadIndex"/> per (layer, query head). Searches take the read side of its lock; prefill,
/// builds, appends and release take the write side.
/// </summary>
internal sealed class KvSequence
{
    private readonly KeyValueStore?[] _stores;
    private readonly AttentionHeadIndex?[] _heads;

    public KvSequence(long id, KvSequenceShape shape)
    {
        Id = id;
        Shape = shape;
        _stores = new KeyValueStore?[shape.LayerCount * shape.KvHeadCount];
        _heads = new AttentionHeadIndex?[shape.LayerCount * shape.QueryHeadCount];
    }

    public long Id { get; }
    public KvSequenceShape Shape { get; }
    public ReaderWriterLockSlim Lock { get; } = new(LockRecursionPolicy.NoRecursion);
    public bool Released { get; set; }

    public long MemoryBytes
    {
        get
        {
            long total = 0;
            foreach (var s in _stores) total += s?.MemoryBytes ?? 0;
            foreach (var h in _heads) total += h?.MemoryBytes ?? 0;
            return total;
        }
    }

    public KeyValueStore? StoreOrNull(int layer, int kvHead)
    {
        CheckLayer(layer);
        if ((uint)kvHead >= (uint)Shape.KvHeadCount)
            throw new RetrievalException(ErrorKind.NotFound, $"KV head {kvHead} of layer {layer} does not exist: sequence {Id} has {Shape.KvHeadCount} KV heads per layer");
        return _stores[layer * Shape.KvHeadCount + kvHead];
    }

    public KeyValueStore Store(int layer, int kvHead) =>
        StoreOrNull(layer, kvHead) ?? throw new RetrievalException(ErrorKind.NotFound,
            $"KV head {kvHead} of layer {layer} of sequence {Id} has no keys yet: prefill it with SetKeyValues first");

    public void SetStore(int layer, int kvHead, KeyValueStore store) => _stores[layer * Shape.KvHeadCount + kvHead] = store;

    public AttentionHeadIndex Head(KvHeadRef head)
    {
        CheckHead(head);
        return _heads[head.Layer * Shape.QueryHeadCount + head.Head] ?? throw new RetrievalException(ErrorKind.NotFound,
            $"query head {head} of sequence {Id} has no index: build it with BuildHead first");
    }

    public AttentionHeadIndex? HeadOrNull(KvHeadRef head)
    {
        CheckHead(head);
        return _heads[head.Layer * Shape.QueryHeadCount + head.Head];
    }

    /// <summary>Installs a head's index; a replaced one gives its graph slot in the KV head's node block back.</summary>
    public void SetHead(KvHeadRef head, AttentionHeadIndex index)
    {
        ref var slot = ref _heads[head.Layer * Shape.QueryHeadCount + head.Head];
        if (slot is not null && !ReferenceEquals(slot, index)) slot.ReleaseGraph();
        slot = index;
    }

    /// <summary>The built query-head indexes that read the given KV head.</summary>
    public IEnumerable<AttentionHeadIndex> HeadsOf(int layer, int kvHead)
    {
        int group = Shape.QueryHeadsPerKvHead;
        for (int h = kvHead * group; h < (kvHead + 1) * group; h++)
        {
            var index = _heads[layer * Shape.QueryHeadCount + h];
            if (index is not null) yield return index;
        }
    }

    public void CheckHead(KvHeadRef head)
    {
        CheckLayer(head.Layer);
        if ((uint)head.Head >= (uint)Shape.QueryHeadCount)
            throw new RetrievalException(ErrorKind.NotFound, $"query head {head} does not exist: sequence {Id} has {Shape.QueryHeadCount} query heads per layer");
    }

    private void CheckLayer(int layer)
    {
        if ((uint)layer >= (uint)Shape.LayerCount)
            throw new RetrievalException(ErrorKind.NotFound, $"layer {layer} does not exist: sequence {Id} has {Shape.LayerCount} layers");
    }
}
