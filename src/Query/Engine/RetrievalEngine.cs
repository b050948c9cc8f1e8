using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

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
/// <para>This class is the facade; the work is done by <see cref="EngineCatalog"/> (collections by name and id),
/// <see cref="RecordPreparer"/> (upsert validation and encoding), <see cref="EngineWriter"/> (log, apply, commit),
/// <see cref="WalApplier"/> and <see cref="EngineRecovery"/> (applying and replaying the log),
/// <see cref="SegmentAttacher"/> (attaching batch-built indexes), <see cref="EngineCheckpointer"/> and
/// <see cref="QueryResolver"/> (turning requests into query vectors).</para>
/// </summary>
public sealed class RetrievalEngine : IAsyncDisposable, IDisposable
{
    /// <summary>Largest k (and hybrid candidate count) a search may ask for.</summary>
    public const int MaxK = 10_000;

    private readonly string _directory;
    private readonly EngineOptions _options;
    private readonly SegmentIndexFactory _factory;
    private readonly string _segmentsRoot;
    private readonly RecordStore _store;
    private readonly WriteAheadLog _log;
    private readonly TextEncoders _encoders;
    private readonly EngineCatalog _catalog;
    private readonly EngineWriter _writer;
    private readonly EngineCheckpointer _checkpointer;
    private readonly RecordPreparer _preparer;
    private readonly SegmentAttacher _attacher;
    private readonly QueryResolver _queries;
    private readonly MemoryBudget _memory;
    private int _disposed;

    private RetrievalEngine(string directory, EngineOptions options)
    {
        _directory = directory;
        _options = options;
        _memory = new MemoryBudget(options.MemoryLimitBytes, options.Log);
        _factory = new SegmentIndexFactory(inPlaceUpdates: options.InPlaceUpdates);
        _segmentsRoot = Path.Combine(directory, "segments");
        var manifest = EngineManifest.Load(directory);
        _catalog = new EngineCatalog(manifest.NextCollectionId, NewCollection);
        _encoders = new TextEncoders(options.EncoderThreads);
        _preparer = new RecordPreparer(options, _encoders);
        _attacher = new SegmentAttacher(options, _preparer, _segmentsRoot);
        _queries = new QueryResolver(_encoders);
        _store = new RecordStore(Path.Combine(directory, "store"), options);
        WalApplier applier;
        try
        {
            _log = new WriteAheadLog(Path.Combine(directory, "log"), options);
            applier = new WalApplier(_catalog, _store, _segmentsRoot);
            ReplayedEntries = EngineRecovery.Recover(manifest, _catalog, _store, _log, applier, _segmentsRoot);
        }
        catch
        {
            _log?.Dispose();
            _store.Dispose();
            throw;
        }
        _writer = new EngineWriter(_log, applier, ThrowIfDisposed);
        _checkpointer = new EngineCheckpointer(directory, options, _log, _store, _catalog, _writer, _segmentsRoot);
        _checkpointer.Start();
    }

    /// <summary>
    /// Opens (creating if needed) the engine in <paramref name="directory"/> and recovers it to its last
    /// acknowledged write. Throws Corrupt naming the file when the log or store is damaged. Sealed segments are
    /// indexed as each collection's schema says (exact, SPANN, Seismic) and their on-disk indexes are reopened, not
    /// rebuilt, while the records they were built from are unchanged.
    /// </summary>
    public static RetrievalEngine Open(string directory, EngineOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= EngineOptions.Default;
        options.Validate();
        Directory.CreateDirectory(directory);
        return new RetrievalEngine(Path.GetFullPath(directory), options);
    }

    public string DirectoryPath => _directory;
    public EngineOptions Options => _options;
    /// <summary>Log entries replayed on open (after the last checkpoint).</summary>
    public long ReplayedEntries { get; }

    /// <summary>Writes refused because resident memory was over <see cref="EngineOptions.MemoryLimitBytes"/> (see <see cref="MemoryBudget"/>).</summary>
    public long MemoryRefusals => _memory.Refusals;

    /// <summary>SPANN/Seismic segment indexes built (rather than reopened from disk) since the engine opened.</summary>
    internal long SegmentIndexBuilds => _factory.IndexBuilds;

    /// <summary>The record store (its log size, compaction), for diagnostics inside the assembly and its tests.</summary>
    internal RecordStore Store => _store;

    // ---------------------------------------------------------------- collections

    public async Task<CollectionInfo> CreateCollectionAsync(CollectionSchema schema, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        schema.Validate();
        uint id = 0;
        Collection? created = null;
        await _writer.WriteAsync(() =>
        {
            if (_catalog.Find(schema.Name) is not null) throw new AlreadyExistsException($"collection '{schema.Name}' already exists");
            id = _catalog.NextCollectionId;
            return [new WalEntry { Op = WalOp.CreateCollection, CollectionId = id, Schema = schema.ToJson() }];
        }, cancellationToken, applied: () => created = _catalog.Get(id)).ConfigureAwait(false);
        return created!.Describe();
    }

    public async Task DropCollectionAsync(string name, CancellationToken cancellationToken = default)
    {
        await _writer.WriteAsync(() => [new WalEntry { Op = WalOp.DropCollection, CollectionId = Find(name).Id }], cancellationToken)
            .ConfigureAwait(false);
    }

    public IReadOnlyList<CollectionInfo> ListCollections()
    {
        var all = _catalog.Named();
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
        _memory.ThrowIfOverBudget(target.Name);
        var encoded = _preparer.Prepare(target, records);
        await WriteEntriesAsync(target, EngineWriter.UpsertEntries(target.Id, encoded, _options.MaxEntryBytes), cancellationToken).ConfigureAwait(false);
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
        await WriteEntriesAsync(target, EngineWriter.DeleteEntries(target.Id, keys), cancellationToken).ConfigureAwait(false);
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
        var (dense, sparse, mode) = _queries.Resolve(target, request, field);
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
        var prepared = _queries.PrepareDenseTexts(target, requests);
        var results = new IReadOnlyList<SearchHit>[requests.Count];
        for (int i = 0; i < requests.Count; i++) results[i] = Search(target, prepared[i], $"queries[{i}]");
        return results;
    }

    // ---------------------------------------------------------------- compaction and background work

    /// <summary>
    /// Rebuilds the collection's sealed segments into one without their tombstoned rows, on a pool thread; searches
    /// and writes continue meanwhile. Segments live in memory (the record store is unchanged), so nothing is logged.
    /// Returns the number of dead rows dropped, or -1 when there was nothing to merge or a compaction was running.
    /// </summary>
    public Task<int> CompactAsync(string collection, CancellationToken cancellationToken = default)
    {
        var target = Find(collection);
        return target.CompactRequestedAsync(cancellationToken);
    }

    /// <summary>
    /// Waits until the background work started so far (segment index builds, automatic compactions) has finished,
    /// for one collection or all. Searches never wait for it: a segment is scanned exactly until its index is in.
    /// </summary>
    public async Task WaitForBackgroundWorkAsync(string? collection = null)
    {
        if (collection is not null)
        {
            await Find(collection).WaitForBackgroundAsync().ConfigureAwait(false);
            return;
        }
        foreach (var c in _catalog.All()) await c.WaitForBackgroundAsync().ConfigureAwait(false);
    }

    private void MaybeCompact(Collection collection)
    {
        if (!_options.AutoCompact || _disposed != 0 || _writer.Faulted is not null) return;
        if (collection.NeedsCompaction(_options)) collection.StartCompaction();
    }

    // ---------------------------------------------------------------- bulk import

    /// <summary>
    /// Attaches batch-built indexes (see <see cref="AttachRequest"/>) to a collection as one immutable segment.
    /// Validates them against the schema first (dimension, metric, vocabulary, row counts, ids, payloads: InvalidInput
    /// / NotFound / Corrupt naming the file), copies them into the data directory, then logs the attach; completes
    /// once that is committed, after which every row is searchable and durable.
    /// </summary>
    public async Task<AttachResult> AttachAsync(string collection, AttachRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var target = Find(collection);
        ThrowIfDisposed();
        _writer.ThrowIfFaulted();
        var prepared = _attacher.Prepare(target, request);
        int replaced = 0;
        foreach (var key in prepared.Keys) if (target.Contains(key)) replaced++;
        await _writer.WriteAsync(() =>
        {
            ThrowIfDropped(target);
            return [new WalEntry { Op = WalOp.Attach, CollectionId = target.Id, Sequence = prepared.Sequence }];
        }, cancellationToken).ConfigureAwait(false);
        MaybeCompact(target);
        return new AttachResult(prepared.Rows, replaced, prepared.Sequence);
    }

    // ---------------------------------------------------------------- durability

    /// <summary>Persists the record store and drops the log entries it covers. Writes wait while it runs.</summary>
    public Task CheckpointAsync(CancellationToken cancellationToken = default) => _checkpointer.CheckpointAsync(cancellationToken);

    /// <summary>Commits everything logged so far (every acknowledged write already is; this is for shutdown paths).</summary>
    public Task FlushAsync() => _log.CommitAsync();

    /// <summary>Log commits issued for acknowledged writes so far (concurrent writes share one: group commit).</summary>
    internal long LogCommits => _log.Commits;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _checkpointer.StopAsync().ConfigureAwait(false);
        try
        {
            // Index builds and compactions in flight finish first, so their segment directories are complete.
            foreach (var c in _catalog.All()) await c.WaitForBackgroundAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException) { }
        try
        {
            await _writer.ExclusiveAsync(async () =>
            {
                if (_writer.Faulted is not null) return;
                if (_options.CheckpointOnClose) await _checkpointer.CheckpointLockedAsync().ConfigureAwait(false);
                else await _log.CommitAsync().ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        finally
        {
            _log.Dispose();
            _store.Dispose();
            _encoders.Dispose();
            foreach (var c in _catalog.All()) c.DisposeSegments();
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    // ---------------------------------------------------------------- internals

    private Collection NewCollection(uint id, CollectionSchema schema) =>
        new(id, schema, _factory, _options.SealRows, _segmentsRoot)
        {
            BackgroundWorkFinished = MaybeCompact,
            ReadStored = key => _store.GetRecord(id, key) is { } bytes ? (RecordCodec.Decode(bytes, withPayload: false), ContentHash64.Of(bytes)) : null,
            Warn = _options.Log,
            AbsorbSealed = _options.AutoCompact && _options.InPlaceUpdates,
        };

    private Collection Find(string name)
    {
        ThrowIfDisposed();
        if (string.IsNullOrEmpty(name)) Guard.ThrowInvalid("collection name is empty");
        return _catalog.Find(name) ?? throw new RetrievalException(ErrorKind.NotFound, $"collection '{name}' does not exist");
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed != 0, this);

    private void ThrowIfDropped(Collection target)
    {
        if (!_catalog.Contains(target.Id)) throw new RetrievalException(ErrorKind.NotFound, $"collection '{target.Name}' was dropped");
    }

    private async Task WriteEntriesAsync(Collection target, List<WalEntry> entries, CancellationToken cancellationToken)
    {
        if (entries.Count == 0) return;
        await _writer.WriteAsync(() =>
        {
            ThrowIfDropped(target);
            return entries;
        }, cancellationToken).ConfigureAwait(false);
        MaybeCompact(target);
    }
}
