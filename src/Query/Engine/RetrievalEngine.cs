using System.Text.Json;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// The embedded retrieval engine: named collections of records (key, dense and/or sparse vector, payload) in a data
/// directory, searchable by vector, sparse vector or text, with hybrid fusion.
/// <para>Durability: every change is appended to a write-ahead log (FasterLog) and applied to the in-memory segments
/// and the record store (FasterKV) in log order; the returned task completes only once the log commit covers it,
/// so an acknowledged write survives a crash. Checkpoints (periodic, on demand and on close) persist the record
/// store and truncate the log. Opening recovers the last checkpoint and replays the committed log after it.</para>
/// <para>A change is visible to concurrent searches from the moment it is applied, which may be just before its
/// commit completes; if that commit fails the engine turns read-only (every later write fails) because memory is
/// then ahead of the disk.</para>
/// <para>Thread-safe: searches and reads run concurrently; writes are applied one at a time and share log commits.</para>
/// </summary>
public sealed class RetrievalEngine : IAsyncDisposable, IDisposable
{
    /// <summary>Largest k (and hybrid candidate count) a search may ask for.</summary>
    public const int MaxK = 10_000;

    private readonly string _directory;
    private readonly EngineOptions _options;
    private readonly ISegmentIndexBuilder _builder;
    private readonly RecordStore _store;
    private readonly WriteAheadLog _log;
    private readonly TextEncoders _encoders;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly Dictionary<string, Collection> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, Collection> _byId = [];
    private readonly object _catalogGate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _checkpointLoop;
    private uint _nextCollectionId;
    private string? _faulted;
    private int _disposed;

    private RetrievalEngine(string directory, EngineOptions options, ISegmentIndexBuilder builder)
    {
        _directory = directory;
        _options = options;
        _builder = builder;
        var manifest = EngineManifest.Load(directory);
        _nextCollectionId = manifest.NextCollectionId;
        _encoders = new TextEncoders(options.EncoderThreads);
        _store = new RecordStore(Path.Combine(directory, "store"), options);
        try
        {
            _log = new WriteAheadLog(Path.Combine(directory, "log"), options);
            LoadStore();
            long replayed = 0;
            foreach (var (address, bytes) in _log.ReadCommitted(manifest.ReplayFrom))
            {
                try
                {
                    Apply(WalEntry.Decode(bytes, address));
                }
                catch (RetrievalException e) when (e.Kind == ErrorKind.Corrupt && !e.Message.StartsWith("write-ahead log", StringComparison.Ordinal))
                {
                    throw new RetrievalException(ErrorKind.Corrupt, $"write-ahead log {_log.Path} entry at address {address}: {e.Message}");
                }
                replayed++;
            }
            ReplayedEntries = replayed;
        }
        catch
        {
            _log?.Dispose();
            _store.Dispose();
            throw;
        }
        _checkpointLoop = options.CheckpointInterval > TimeSpan.Zero ? CheckpointLoopAsync(options.CheckpointInterval) : Task.CompletedTask;
    }

    /// <summary>
    /// Opens (creating if needed) the engine in <paramref name="directory"/> and recovers it to its last
    /// acknowledged write. Throws Corrupt naming the file when the log or store is damaged.
    /// </summary>
    public static RetrievalEngine Open(string directory, EngineOptions? options = null, ISegmentIndexBuilder? builder = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= EngineOptions.Default;
        options.Validate();
        Directory.CreateDirectory(directory);
        return new RetrievalEngine(Path.GetFullPath(directory), options, builder ?? ExactSegmentIndexBuilder.Instance);
    }

    public string DirectoryPath => _directory;
    public EngineOptions Options => _options;
    /// <summary>Log entries replayed on open (after the last checkpoint).</summary>
    public long ReplayedEntries { get; }

    // ---------------------------------------------------------------- collections

    public async Task<CollectionInfo> CreateCollectionAsync(CollectionSchema schema, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        schema.Validate();
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        long until;
        Collection created;
        try
        {
            ThrowIfUnwritable();
            lock (_catalogGate)
            {
                if (_byName.ContainsKey(schema.Name))
                    throw new AlreadyExistsException($"collection '{schema.Name}' already exists");
            }
            var entry = new WalEntry { Op = WalOp.CreateCollection, CollectionId = _nextCollectionId, Schema = schema.ToJson() };
            until = _log.Append(entry.Encode());
            Apply(entry);
            created = _byId[entry.CollectionId];
        }
        finally { _writeGate.Release(); }
        await CommitAsync(until).ConfigureAwait(false);
        return created.Describe();
    }

    public async Task DropCollectionAsync(string name, CancellationToken cancellationToken = default)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        long until;
        try
        {
            ThrowIfUnwritable();
            var collection = Find(name);
            var entry = new WalEntry { Op = WalOp.DropCollection, CollectionId = collection.Id };
            until = _log.Append(entry.Encode());
            Apply(entry);
        }
        finally { _writeGate.Release(); }
        await CommitAsync(until).ConfigureAwait(false);
    }

    public IReadOnlyList<CollectionInfo> ListCollections()
    {
        List<Collection> all;
        lock (_catalogGate) all = [.. _byName.Values];
        all.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        var infos = new List<CollectionInfo>(all.Count);
        foreach (var c in all) infos.Add(c.Describe());
        return infos;
    }

    public CollectionInfo Describe(string name) => Find(name).Describe();

    // ---------------------------------------------------------------- records

    /// <summary>
    /// Inserts or replaces records (by key; within one call the last record of a key wins). Text is encoded by the
    /// collection's text encoders into whichever vectors are not given. Completes once the change is committed to
    /// the log. Large batches are logged as several entries, each applied whole. Returns the number of records written.
    /// </summary>
    public async Task<int> UpsertAsync(string collection, IReadOnlyList<EngineRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var target = Find(collection);
        var encoded = Prepare(target, records);
        var entries = new List<WalEntry>();
        var batch = new List<byte[]>();
        long batchBytes = 0;
        foreach (var bytes in encoded)
        {
            if (batch.Count > 0 && batchBytes + bytes.Length + 4 > _options.MaxEntryBytes - 64)
            {
                entries.Add(new WalEntry { Op = WalOp.Upsert, CollectionId = target.Id, Records = batch });
                batch = [];
                batchBytes = 0;
            }
            batch.Add(bytes);
            batchBytes += bytes.Length + 4;
        }
        if (batch.Count > 0) entries.Add(new WalEntry { Op = WalOp.Upsert, CollectionId = target.Id, Records = batch });
        await WriteEntriesAsync(target, entries, cancellationToken).ConfigureAwait(false);
        return records.Count;
    }

    /// <summary>Deletes records by key; returns how many existed. Completes once committed.</summary>
    public async Task<int> DeleteAsync(string collection, IReadOnlyList<RecordKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var target = Find(collection);
        for (int i = 0; i < keys.Count; i++) keys[i].Check(target.Schema.Key, target.Name);
        int existed = 0;
        foreach (var key in keys) if (target.Contains(key)) existed++;
        var entries = new List<WalEntry>();
        for (int start = 0; start < keys.Count; start += 4096)
        {
            var chunk = new List<RecordKey>();
            for (int i = start; i < Math.Min(keys.Count, start + 4096); i++) chunk.Add(keys[i]);
            entries.Add(new WalEntry { Op = WalOp.Delete, CollectionId = target.Id, Keys = chunk });
        }
        await WriteEntriesAsync(target, entries, cancellationToken).ConfigureAwait(false);
        return existed;
    }

    /// <summary>The stored record (payload from the record store, vectors when asked), or null when absent.</summary>
    public StoredRecord? Get(string collection, RecordKey key, bool withVectors = false, bool withPayload = true)
    {
        var target = Find(collection);
        key.Check(target.Schema.Key, target.Name);
        if (!target.TryGetVectors(key, out var dense, out var sparse)) return null;
        byte[]? payload = null;
        if (withPayload)
        {
            var bytes = _store.GetRecord(target.Id, key);
            if (bytes is null) return null; // deleted between the two reads
            payload = RecordCodec.Decode(bytes).Payload;
        }
        return new StoredRecord(key, withVectors ? dense : null, withVectors ? sparse : null, payload);
    }

    // ---------------------------------------------------------------- search

    public IReadOnlyList<SearchHit> Search(string collection, SearchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Search(Find(collection), request, "query");
    }

    private List<SearchHit> Search(Collection target, SearchRequest request, string field)
    {
        request.Validate(MaxK, field);
        var (dense, sparse, mode) = ResolveQuery(target, request, field);
        var hits = target.Search(dense, sparse, mode, request);
        var results = new List<SearchHit>(hits.Count);
        foreach (var (key, score) in hits)
        {
            byte[]? payload = null;
            if (request.WithPayload && _store.GetRecord(target.Id, key) is { } bytes) payload = RecordCodec.Decode(bytes).Payload;
            results.Add(new SearchHit(key, score, payload));
        }
        return results;
    }

    /// <summary>Runs each request in order (all against one collection); texts are embedded in one encoder batch.</summary>
    public IReadOnlyList<IReadOnlyList<SearchHit>> SearchBatch(string collection, IReadOnlyList<SearchRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var target = Find(collection);
        var prepared = PrepareDenseTexts(target, requests);
        var results = new IReadOnlyList<SearchHit>[requests.Count];
        for (int i = 0; i < requests.Count; i++) results[i] = Search(target, prepared[i], $"queries[{i}]");
        return results;
    }

    /// <summary>
    /// Rebuilds the collection's sealed segments into one without their tombstoned rows, on a pool thread; searches
    /// and writes continue meanwhile. Segments live in memory (the record store is unchanged), so nothing is logged.
    /// Returns the number of dead rows dropped, or -1 when there was nothing to merge or a compaction was running.
    /// </summary>
    public Task<int> CompactAsync(string collection, CancellationToken cancellationToken = default)
    {
        var target = Find(collection);
        return Task.Run(target.Compact, cancellationToken);
    }

    // ---------------------------------------------------------------- durability

    /// <summary>Persists the record store and drops the log entries it covers. Writes wait while it runs.</summary>
    public async Task CheckpointAsync(CancellationToken cancellationToken = default)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await CheckpointLockedAsync().ConfigureAwait(false);
        }
        finally { _writeGate.Release(); }
    }

    /// <summary>Commits everything logged so far (every acknowledged write already is; this is for shutdown paths).</summary>
    public Task FlushAsync() => _log.CommitAsync();

    private async Task CheckpointLockedAsync()
    {
        if (_faulted is not null) return;
        await _log.CommitAsync().ConfigureAwait(false);
        long replayFrom = _log.Tail;
        var token = await _store.CheckpointAsync().ConfigureAwait(false);
        new EngineManifest(EngineManifest.FormatName, EngineManifest.CurrentVersion, token, replayFrom, _nextCollectionId).Save(_directory);
        await _log.TruncateAsync(replayFrom).ConfigureAwait(false);
    }

    private async Task CheckpointLoopAsync(TimeSpan interval)
    {
        try
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try { await CheckpointAsync(_stopping.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                catch (Exception e) { _faulted ??= $"background checkpoint failed: {e.Message}"; }
            }
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        await _checkpointLoop.ConfigureAwait(false);
        await _writeGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_faulted is null)
            {
                if (_options.CheckpointOnClose) await CheckpointLockedAsync().ConfigureAwait(false);
                else await _log.CommitAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _log.Dispose();
            _store.Dispose();
            _encoders.Dispose();
            _stopping.Dispose();
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    // ---------------------------------------------------------------- internals

    private Collection Find(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (string.IsNullOrEmpty(name)) Guard.ThrowInvalid("collection name is empty");
        lock (_catalogGate)
        {
            if (_byName.TryGetValue(name, out var c)) return c;
        }
        throw new RetrievalException(ErrorKind.NotFound, $"collection '{name}' does not exist");
    }

    private void ThrowIfUnwritable()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_faulted is not null)
            throw new RetrievalException(ErrorKind.Internal, $"engine is read-only after a failure ({_faulted}); restart it to recover from the log");
    }

    private async Task WriteEntriesAsync(Collection target, List<WalEntry> entries, CancellationToken cancellationToken)
    {
        if (entries.Count == 0) return;
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        long until;
        try
        {
            ThrowIfUnwritable();
            lock (_catalogGate)
            {
                if (!_byId.ContainsKey(target.Id))
                    throw new RetrievalException(ErrorKind.NotFound, $"collection '{target.Name}' was dropped");
            }
            until = 0;
            foreach (var entry in entries)
            {
                until = _log.Append(entry.Encode());
                Apply(entry);
            }
        }
        finally { _writeGate.Release(); }
        await CommitAsync(until).ConfigureAwait(false);
    }

    private async Task CommitAsync(long until)
    {
        try
        {
            await _log.WaitForCommitAsync(until).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _faulted ??= $"log commit failed: {e.Message}";
            throw new RetrievalException(ErrorKind.Internal, $"write-ahead log commit failed: {e.Message}");
        }
    }

    /// <summary>Applies one logged change to memory and to the record store. Idempotent for replay.</summary>
    private void Apply(WalEntry entry)
    {
        switch (entry.Op)
        {
            case WalOp.CreateCollection:
            {
                var schema = CollectionSchema.FromJson(entry.Schema);
                lock (_catalogGate)
                {
                    if (_byId.ContainsKey(entry.CollectionId)) return;
                    var collection = new Collection(entry.CollectionId, schema, _builder, _options.SealRows);
                    _byId[entry.CollectionId] = collection;
                    // Replay over a newer checkpoint can re-create an incarnation that a later entry drops again; ids
                    // only grow, so a name already held by a newer incarnation keeps it.
                    if (!_byName.TryGetValue(schema.Name, out var holder) || holder.Id < entry.CollectionId) _byName[schema.Name] = collection;
                    _nextCollectionId = Math.Max(_nextCollectionId, entry.CollectionId + 1);
                }
                _store.PutSchema(entry.CollectionId, entry.Schema!);
                return;
            }
            case WalOp.DropCollection:
                lock (_catalogGate)
                {
                    if (!_byId.Remove(entry.CollectionId, out var dropped)) return;
                    if (_byName.TryGetValue(dropped.Name, out var holder) && holder.Id == dropped.Id) _byName.Remove(dropped.Name);
                }
                // The dropped collection's records stay in the store until the next open discards them by id.
                _store.DeleteSchema(entry.CollectionId);
                return;
            case WalOp.Upsert:
            {
                Collection? collection;
                lock (_catalogGate) _byId.TryGetValue(entry.CollectionId, out collection);
                if (collection is null) return;
                // Decode every record before applying any, so a damaged entry is never half-applied.
                var decoded = new RecordData[entry.Records!.Count];
                for (int i = 0; i < decoded.Length; i++) decoded[i] = RecordCodec.Decode(entry.Records[i], withPayload: false);
                for (int i = 0; i < decoded.Length; i++)
                {
                    _store.PutRecord(collection.Id, decoded[i].Key, entry.Records[i]);
                    collection.Upsert(decoded[i]);
                }
                return;
            }
            case WalOp.Delete:
            {
                Collection? collection;
                lock (_catalogGate) _byId.TryGetValue(entry.CollectionId, out collection);
                if (collection is null) return;
                foreach (var key in entry.Keys!)
                {
                    _store.DeleteRecord(collection.Id, key);
                    collection.Delete(key);
                }
                return;
            }
        }
    }

    /// <summary>Rebuilds the collections from the record store's checkpointed state; drops records of dropped collections.</summary>
    private void LoadStore()
    {
        var records = new List<(uint, byte[])>();
        _store.ScanAll(
            (id, schema) =>
            {
                var s = CollectionSchema.FromJson(schema);
                var collection = new Collection(id, s, _builder, _options.SealRows);
                _byId[id] = collection;
                if (!_byName.TryGetValue(s.Name, out var holder) || holder.Id < id) _byName[s.Name] = collection;
                _nextCollectionId = Math.Max(_nextCollectionId, id + 1);
            },
            (id, bytes) => records.Add((id, bytes)));
        foreach (var (id, bytes) in records)
        {
            var record = RecordCodec.Decode(bytes, withPayload: false);
            if (_byId.TryGetValue(id, out var collection)) collection.Upsert(record);
            else _store.DeleteRecord(id, record.Key);
        }
    }

    /// <summary>Validates the records, encodes any text, and returns each record's stored bytes.</summary>
    private List<byte[]> Prepare(Collection target, IReadOnlyList<EngineRecord> records)
    {
        var schema = target.Schema;
        var denseVectors = new float[]?[records.Count];
        var sparseVectors = new SparseTerms?[records.Count];
        var tokens = new int[records.Count];
        var denseTexts = new List<string>();
        var denseTextRows = new List<int>();
        var sparseTexts = new List<string>();
        var sparseTextRows = new List<int>();
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i] ?? throw new RetrievalException(ErrorKind.InvalidInput, $"records[{i}] is null");
            r.Key.Check(schema.Key, schema.Name);
            denseVectors[i] = r.Dense;
            sparseVectors[i] = r.Sparse;
            if (r.Text is not null)
            {
                if (!schema.TextEncoders) Guard.ThrowInvalid($"records[{i}].text given, but collection '{schema.Name}' was created without text encoders");
                if (schema.Dense is not null && r.Dense is null) { denseTexts.Add(r.Text); denseTextRows.Add(i); }
                if (schema.Sparse is not null && r.Sparse is null) { sparseTexts.Add(r.Text); sparseTextRows.Add(i); }
            }
            if (r.Payload is { } payload)
            {
                if (payload.Length > _options.MaxPayloadBytes)
                    throw new RetrievalException(ErrorKind.ResourceExhausted, $"records[{i}].payload is {payload.Length} bytes, the limit is {_options.MaxPayloadBytes}");
                if (schema.Payload == PayloadKind.Json && !IsJson(payload))
                    Guard.ThrowInvalid($"records[{i}].payload is not valid JSON (collection '{schema.Name}' stores JSON payloads)");
            }
        }
        if (denseTexts.Count > 0)
        {
            var vectors = _encoders.EncodeDense(denseTexts);
            for (int j = 0; j < vectors.Length; j++) denseVectors[denseTextRows[j]] = vectors[j];
        }
        if (sparseTexts.Count > 0)
        {
            var (vectors, lengths) = _encoders.EncodeDocuments(sparseTexts, target);
            for (int j = 0; j < vectors.Length; j++)
            {
                sparseVectors[sparseTextRows[j]] = vectors[j];
                tokens[sparseTextRows[j]] = lengths[j];
            }
        }
        var encoded = new List<byte[]>(records.Count);
        int maxRecordBytes = Math.Min(_options.MaxEntryBytes - 64, (1 << (_options.StorePageBits - 1)));
        for (int i = 0; i < records.Count; i++)
        {
            if (sparseVectors[i] is { } s && !IsNormalized(s)) sparseVectors[i] = SparseTerms.Normalize(s.Indices, s.Values);
            target.ValidateVectors(denseVectors[i], sparseVectors[i], $"records[{i}]");
            var bytes = RecordCodec.Encode(new RecordData(records[i].Key, denseVectors[i], sparseVectors[i], tokens[i], records[i].Payload),
                _options.CompressPayloadBytes);
            if (bytes.Length > maxRecordBytes)
                throw new RetrievalException(ErrorKind.ResourceExhausted, $"records[{i}] is {bytes.Length} bytes stored, the limit is {maxRecordBytes}");
            encoded.Add(bytes);
        }
        return encoded;
    }

    private static bool IsNormalized(SparseTerms s)
    {
        if (s.Indices.Length != s.Values.Length) return false;
        for (int i = 1; i < s.Indices.Length; i++) if (s.Indices[i] <= s.Indices[i - 1]) return false;
        return true;
    }

    private static bool IsJson(byte[] payload)
    {
        try
        {
            using var _ = JsonDocument.Parse(payload);
            return true;
        }
        catch (JsonException) { return false; }
    }

    /// <summary>Which vectors a request searches with, encoding its text as needed.</summary>
    private (float[]? Dense, SparseTerms? Sparse, SearchMode Mode) ResolveQuery(Collection target, SearchRequest request, string field)
    {
        var schema = target.Schema;
        float[]? dense = request.Vector;
        SparseTerms? sparse = request.Sparse;
        if (sparse is not null && !IsNormalized(sparse)) sparse = SparseTerms.Normalize(sparse.Indices, sparse.Values);
        bool hasText = !string.IsNullOrEmpty(request.Text);
        if (hasText && !schema.TextEncoders)
            Guard.ThrowInvalid($"{field}.text given, but collection '{schema.Name}' was created without text encoders");
        var mode = request.Mode;
        if (mode == SearchMode.Auto)
        {
            bool canDense = schema.Dense is not null && (dense is not null || hasText);
            bool canSparse = schema.Sparse is not null && (sparse is not null || hasText);
            mode = canDense && canSparse ? SearchMode.Hybrid : canDense ? SearchMode.Dense : canSparse ? SearchMode.Sparse
                : throw new RetrievalException(ErrorKind.InvalidInput, $"{field} has no vector for the fields of collection '{schema.Name}'");
        }
        bool wantDense = mode is SearchMode.Dense or SearchMode.Hybrid;
        bool wantSparse = mode is SearchMode.Sparse or SearchMode.Hybrid;
        if (wantDense)
        {
            if (schema.Dense is null) Guard.ThrowInvalid($"{field}.mode {mode} needs a dense field; collection '{schema.Name}' has none");
            if (dense is null && hasText) dense = _encoders.EncodeDense([request.Text!])[0];
            if (dense is null) Guard.ThrowInvalid($"{field}.vector is required for {mode.ToString().ToLowerInvariant()} search");
            if (dense.Length != schema.Dense.Dimension)
                Guard.ThrowInvalid($"{field}.vector has {dense.Length} dimensions, collection '{schema.Name}' expects {schema.Dense.Dimension}");
            for (int i = 0; i < dense.Length; i++)
                if (!float.IsFinite(dense[i])) Guard.ThrowInvalid($"{field}.vector[{i}] is {dense[i]}, not a finite number");
        }
        if (wantSparse)
        {
            if (schema.Sparse is null) Guard.ThrowInvalid($"{field}.mode {mode} needs a sparse field; collection '{schema.Name}' has none");
            if (sparse is null && hasText) sparse = _encoders.EncodeQuery(request.Text!, target);
            if (sparse is null) Guard.ThrowInvalid($"{field}.sparse is required for {mode.ToString().ToLowerInvariant()} search");
            sparse.Validate(schema.Sparse.VocabularySize, $"{field}.sparse");
        }
        return (wantDense ? dense : null, wantSparse ? sparse : null, mode);
    }

    /// <summary>Encodes the texts of requests that need MiniLM in one batch (much faster than one at a time).</summary>
    private List<SearchRequest> PrepareDenseTexts(Collection target, IReadOnlyList<SearchRequest> requests)
    {
        var prepared = new List<SearchRequest>(requests.Count);
        var texts = new List<string>();
        var rows = new List<int>();
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i] ?? throw new RetrievalException(ErrorKind.InvalidInput, $"queries[{i}] is null");
            prepared.Add(r);
            if (target.Schema.TextEncoders && target.Schema.Dense is not null && r.Vector is null && !string.IsNullOrEmpty(r.Text)
                && r.Mode != SearchMode.Sparse)
            {
                texts.Add(r.Text);
                rows.Add(i);
            }
        }
        if (texts.Count > 1)
        {
            var vectors = _encoders.EncodeDense(texts);
            for (int j = 0; j < rows.Count; j++) prepared[rows[j]] = prepared[rows[j]] with { Vector = vectors[j] };
        }
        return prepared;
    }
}
