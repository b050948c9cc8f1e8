using System.Collections.Concurrent;
using Retrieval.Index.Attention;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Attention;

// Stays one class (about 400 lines): every public call is the same lock-check-reserve-delegate sequence around one sequence; the work lives in KeyValueStore, AttentionHeadIndex and HeadBatch.
/// <summary>
/// The embedded KV-cache API of the attention-aware index: sequences are created, prefilled with keys/values
/// per KV head, indexed per query head from that head's prefill queries, searched or attended for many heads in
/// one call (parallel across cores, one thread per head-query), extended by decode appends, and released.
/// Thread-safe: calls on different sequences run independently; on one sequence, searches run concurrently and
/// prefill/build/append/release are exclusive.
/// </summary>
public sealed class KvCache
{
    private readonly ConcurrentDictionary<long, KvSequence> _sequences = new();
    private long _nextId;
    private long _reservedBytes;

    public KvCache(KvCacheOptions? options = null)
    {
        Options = (options ?? new KvCacheOptions()).Validate();
    }

    public KvCacheOptions Options { get; }

    private int Threads => Options.Threads == 0 ? Environment.ProcessorCount : Options.Threads;

    /// <summary>Bytes held by all live sequences (keys, values and graphs).</summary>
    public long TotalMemoryBytes => Interlocked.Read(ref _reservedBytes);

    public int SequenceCount => _sequences.Count;

    /// <summary>Creates an empty sequence and returns its id.</summary>
    public long CreateSequence(KvSequenceShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        shape.Validate();
        long id = Interlocked.Increment(ref _nextId);
        _sequences[id] = new KvSequence(id, shape);
        return id;
    }

    public KvSequenceShape ShapeOf(long sequenceId) => Get(sequenceId).Shape;

    /// <summary>
    /// Prefill of one KV head: tokenCount keys and values (each tokenCount x HeadDimension, row = position). Each
    /// KV head is prefilled once; later tokens arrive through <see cref="Append"/>.
    /// </summary>
    public void SetKeyValues(long sequenceId, int layer, int kvHead, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int tokenCount)
    {
        var sequence = Get(sequenceId);
        sequence.Lock.EnterWriteLock();
        try
        {
            CheckLive(sequence);
            if (sequence.StoreOrNull(layer, kvHead) is not null)
                Guard.ThrowInvalid($"KV head {kvHead} of layer {layer} of sequence {sequenceId} is already prefilled; add tokens with Append");
            if (tokenCount < 0) Guard.ThrowInvalid($"token count must be >= 0, got {tokenCount}");
            Reserve(2L * tokenCount * sequence.Shape.HeadDimension * sizeof(float), "prefilling keys and values");
            try
            {
                sequence.SetStore(layer, kvHead, new KeyValueStore(sequence.Shape.HeadDimension, keys, values, tokenCount));
            }
            catch
            {
                ReleaseBytes(2L * tokenCount * sequence.Shape.HeadDimension * sizeof(float));
                throw;
            }
        }
        finally
        {
            sequence.Lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Builds (or rebuilds) the index of one query head over its KV head's current keys, from that head's
    /// prefill queries (trainingCount x HeadDimension). Returns the build's timings.
    /// </summary>
    public GraphBuildStats BuildHead(long sequenceId, KvHeadRef head, ReadOnlySpan<float> trainingQueries, int trainingCount,
        AttentionIndexOptions? options = null)
    {
        var sequence = Get(sequenceId);
        options = (options ?? AttentionIndexOptions.Default).Validate();
        if (options.Threads == 0 && Options.Threads != 0) options = options with { Threads = Options.Threads };
        sequence.Lock.EnterWriteLock();
        try
        {
            CheckLive(sequence);
            sequence.CheckHead(head);
            var store = sequence.Store(head.Layer, sequence.Shape.KvHeadOf(head.Head));
            long estimate = (long)store.Count * (options.Connectivity + 2) * sizeof(int);
            Reserve(estimate, $"building query head {head}");
            AttentionHeadIndex index;
            try
            {
                index = AttentionHeadIndex.Build(store, trainingQueries, trainingCount, options);
            }
            finally
            {
                ReleaseBytes(estimate);
            }
            long previous = sequence.HeadOrNull(head)?.MemoryBytes ?? 0;
            Reserve(index.MemoryBytes - previous, $"building query head {head}");
            sequence.SetHead(head, index);
            return index.BuildStats;
        }
        finally
        {
            sequence.Lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Top-<paramref name="k"/> keys for a batch of heads: queries is heads.Length x HeadDimension; ids and scores
    /// receive heads.Length x k (positions and raw q·k, best first); keysScored (optional, heads.Length) receives
    /// the keys each search scored. Heads run in parallel across cores.
    /// </summary>
    public void Search(long sequenceId, ReadOnlySpan<KvHeadRef> heads, ReadOnlySpan<float> queries, int k,
        AttentionSearchParameters parameters, Span<int> ids, Span<float> scores, Span<int> keysScored = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var sequence = Get(sequenceId);
        int d = sequence.Shape.HeadDimension;
        CheckBatch(heads.Length, queries.Length, d);
        Guard.ValidK(k);
        if (ids.Length != (long)heads.Length * k || scores.Length != (long)heads.Length * k)
            Guard.ThrowInvalid($"ids/scores hold {ids.Length}/{scores.Length} entries, expected heads x k = {heads.Length} x {k}");
        if (!keysScored.IsEmpty && keysScored.Length != heads.Length)
            Guard.ThrowInvalid($"keysScored holds {keysScored.Length} entries, expected one per head ({heads.Length})");
        sequence.Lock.EnterReadLock();
        try
        {
            CheckLive(sequence);
            var indexes = Resolve(sequence, heads, queries, k, parameters);
            HeadBatch.Run(indexes, queries, k, parameters, ids, scores, default, default, keysScored, Threads);
        }
        finally
        {
            sequence.Lock.ExitReadLock();
        }
    }

    /// <summary>
    /// Partial attention over the top-<paramref name="k"/> retrieved keys for a batch of heads: outputs receives
    /// heads.Length x HeadDimension softmax-weighted values and logSumExp heads.Length log-sum-exps of the scaled
    /// scores, to be merged with the caller's static part by <see cref="AttentionMerge.Merge"/>.
    /// </summary>
    public void Attend(long sequenceId, ReadOnlySpan<KvHeadRef> heads, ReadOnlySpan<float> queries, int k,
        AttentionSearchParameters parameters, Span<float> outputs, Span<float> logSumExp, Span<int> keysScored = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var sequence = Get(sequenceId);
        int d = sequence.Shape.HeadDimension;
        CheckBatch(heads.Length, queries.Length, d);
        if (outputs.Length != heads.Length * d)
            Guard.ThrowInvalid($"outputs hold {outputs.Length} floats, expected heads x d = {heads.Length} x {d}");
        if (logSumExp.Length != heads.Length)
            Guard.ThrowInvalid($"logSumExp holds {logSumExp.Length} entries, expected one per head ({heads.Length})");
        if (!keysScored.IsEmpty && keysScored.Length != heads.Length)
            Guard.ThrowInvalid($"keysScored holds {keysScored.Length} entries, expected one per head ({heads.Length})");
        sequence.Lock.EnterReadLock();
        try
        {
            CheckLive(sequence);
            var indexes = Resolve(sequence, heads, queries, k, parameters);
            HeadBatch.Run(indexes, queries, k, parameters, default, default, outputs, logSumExp, keysScored, Threads);
        }
        finally
        {
            sequence.Lock.ExitReadLock();
        }
    }

    /// <summary>
    /// Appends tokens to one KV head: keys and values each rows x HeadDimension. New keys are searchable at once:
    /// every query head of the group inserts them into its graph now (query-guided, see
    /// <see cref="ObserveQueries"/>), or in buffered mode scans them exactly until
    /// <see cref="AttentionIndexOptions.AppendFoldBatch"/> have accumulated. Returns the position of the first new token.
    /// </summary>
    public int Append(long sequenceId, int layer, int kvHead, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        var sequence = Get(sequenceId);
        sequence.Lock.EnterWriteLock();
        try
        {
            CheckLive(sequence);
            return AppendLocked(sequence, layer, kvHead, keys, values);
        }
        finally
        {
            sequence.Lock.ExitWriteLock();
        }
    }

    /// <summary>One decode step of one layer: one key and value per KV head (each KvHeadCount x HeadDimension).</summary>
    public int AppendStep(long sequenceId, int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        var sequence = Get(sequenceId);
        int d = sequence.Shape.HeadDimension, kvHeads = sequence.Shape.KvHeadCount;
        if (keys.Length != kvHeads * d || values.Length != kvHeads * d)
            Guard.ThrowInvalid($"a decode step holds one key and value per KV head: expected {kvHeads} x {d} = {kvHeads * d} floats each, got {keys.Length} and {values.Length}");
        sequence.Lock.EnterWriteLock();
        try
        {
            CheckLive(sequence);
            int position = -1;
            for (int h = 0; h < kvHeads; h++)
                position = AppendLocked(sequence, layer, h, keys.Slice(h * d, d), values.Slice(h * d, d));
            return position;
        }
        finally
        {
            sequence.Lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Remembers decode queries (heads.Length x HeadDimension, one per named head) so that keys appended later are
    /// linked where such queries will look for them (query-guided insertion). A decoder calls it with each step's
    /// queries; it is optional (without it appended keys are linked by their own neighbours only).
    /// </summary>
    public void ObserveQueries(long sequenceId, ReadOnlySpan<KvHeadRef> heads, ReadOnlySpan<float> queries)
    {
        var sequence = Get(sequenceId);
        int d = sequence.Shape.HeadDimension;
        CheckBatch(heads.Length, queries.Length, d);
        sequence.Lock.EnterWriteLock();
        try
        {
            CheckLive(sequence);
            long before = sequence.MemoryBytes;
            var scratch = ScratchPool.Rent();
            for (int i = 0; i < heads.Length; i++) sequence.Head(heads[i]).ObserveQuery(queries.Slice(i * d, d), scratch);
            Interlocked.Add(ref _reservedBytes, sequence.MemoryBytes - before);
        }
        finally
        {
            sequence.Lock.ExitWriteLock();
        }
    }

    /// <summary>Positions held by one KV head (prefill plus appended).</summary>
    public int TokenCount(long sequenceId, int layer, int kvHead)
    {
        var sequence = Get(sequenceId);
        sequence.Lock.EnterReadLock();
        try
        {
            CheckLive(sequence);
            return sequence.Store(layer, kvHead).Count;
        }
        finally
        {
            sequence.Lock.ExitReadLock();
        }
    }

    /// <summary>The built index of a query head (for diagnostics and benchmarks; do not use it across appends).</summary>
    public AttentionHeadIndex HeadIndex(long sequenceId, KvHeadRef head)
    {
        var sequence = Get(sequenceId);
        sequence.Lock.EnterReadLock();
        try
        {
            CheckLive(sequence);
            return sequence.Head(head);
        }
        finally
        {
            sequence.Lock.ExitReadLock();
        }
    }

    /// <summary>Shape, memory and per-KV-head token counts of one sequence (0 for a KV head not prefilled yet).</summary>
    public KvSequenceInfo Describe(long sequenceId)
    {
        var sequence = Get(sequenceId);
        sequence.Lock.EnterReadLock();
        try
        {
            CheckLive(sequence);
            var shape = sequence.Shape;
            var counts = new int[shape.LayerCount * shape.KvHeadCount];
            for (int layer = 0; layer < shape.LayerCount; layer++)
                for (int h = 0; h < shape.KvHeadCount; h++)
                    counts[layer * shape.KvHeadCount + h] = sequence.StoreOrNull(layer, h)?.Count ?? 0;
            int built = 0;
            for (int layer = 0; layer < shape.LayerCount; layer++)
                for (int h = 0; h < shape.QueryHeadCount; h++)
                    if (sequence.HeadOrNull(new KvHeadRef(layer, h)) is not null) built++;
            return new KvSequenceInfo(sequenceId, shape, sequence.MemoryBytes, counts, built);
        }
        finally
        {
            sequence.Lock.ExitReadLock();
        }
    }

    /// <summary>Bytes held by one sequence: keys, values and graphs.</summary>
    public long MemoryBytes(long sequenceId)
    {
        var sequence = Get(sequenceId);
        sequence.Lock.EnterReadLock();
        try
        {
            CheckLive(sequence);
            return sequence.MemoryBytes;
        }
        finally
        {
            sequence.Lock.ExitReadLock();
        }
    }

    /// <summary>Drops a sequence and everything it holds.</summary>
    public void Release(long sequenceId)
    {
        if (!_sequences.TryRemove(sequenceId, out var sequence))
            throw new RetrievalException(ErrorKind.NotFound, $"sequence {sequenceId} does not exist (never created or already released)");
        sequence.Lock.EnterWriteLock();
        try
        {
            ReleaseBytes(sequence.MemoryBytes);
            sequence.Released = true;
        }
        finally
        {
            sequence.Lock.ExitWriteLock();
        }
    }

    private int AppendLocked(KvSequence sequence, int layer, int kvHead, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        var store = sequence.Store(layer, kvHead);
        long before = sequence.MemoryBytes;
        // The store's growth is known up front; refuse before touching anything if it does not fit.
        int rows = store.Dimension == 0 ? 0 : keys.Length / store.Dimension;
        long storeGrowth = store.MemoryBytesAfterAppend(Math.Max(rows, 1)) - store.MemoryBytes;
        Reserve(storeGrowth, $"appending to KV head {kvHead} of layer {layer}");
        int first;
        try
        {
            first = store.Append(keys, values);
        }
        catch
        {
            ReleaseBytes(storeGrowth);
            throw;
        }
        foreach (var index in sequence.HeadsOf(layer, kvHead))
        {
            if (index.Options.AppendMode == AppendMode.QueryGuided) index.InsertAppended(ScratchPool.Rent());
            else if (index.PendingCount >= index.Options.AppendFoldBatch) index.FoldAppended(ScratchPool.Rent());
        }
        // Graph growth from folding is small next to the keys; it is counted, not refused, so an append that has
        // been accepted is never half applied.
        Interlocked.Add(ref _reservedBytes, sequence.MemoryBytes - before - storeGrowth);
        return first;
    }

    private static AttentionHeadIndex[] Resolve(KvSequence sequence, ReadOnlySpan<KvHeadRef> heads, ReadOnlySpan<float> queries,
        int k, AttentionSearchParameters parameters)
    {
        parameters.Validate();
        var indexes = new AttentionHeadIndex[heads.Length];
        int d = sequence.Shape.HeadDimension;
        for (int i = 0; i < heads.Length; i++)
        {
            var index = sequence.Head(heads[i]);
            index.ValidateQuery(queries.Slice(i * d, d), k, parameters);
            indexes[i] = index;
        }
        return indexes;
    }

    private static void CheckBatch(int heads, int queryFloats, int dimension)
    {
        if (heads == 0) Guard.ThrowInvalid("the batch names no heads");
        if (queryFloats != heads * dimension)
            Guard.ThrowInvalid($"dimension mismatch: queries hold {queryFloats} floats, expected one {dimension}-d query per head ({heads} x {dimension} = {heads * dimension})");
    }

    private KvSequence Get(long sequenceId) =>
        _sequences.TryGetValue(sequenceId, out var sequence)
            ? sequence
            : throw new RetrievalException(ErrorKind.NotFound, $"sequence {sequenceId} does not exist (never created or already released)");

    private static void CheckLive(KvSequence sequence)
    {
        if (sequence.Released)
            throw new RetrievalException(ErrorKind.NotFound, $"sequence {sequence.Id} was released");
    }

    private void Reserve(long bytes, string what)
    {
        if (bytes <= 0) { ReleaseBytes(-bytes); return; }
        long after = Interlocked.Add(ref _reservedBytes, bytes);
        if (after > Options.MemoryLimitBytes)
        {
            Interlocked.Add(ref _reservedBytes, -bytes);
            throw new RetrievalException(ErrorKind.ResourceExhausted,
                $"{what} needs {bytes} more bytes; the KV cache holds {after - bytes} of its {Options.MemoryLimitBytes}-byte limit (release sequences or raise MemoryLimitBytes)");
        }
    }

    private void ReleaseBytes(long bytes) => Interlocked.Add(ref _reservedBytes, -bytes);
}
