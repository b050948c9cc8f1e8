using System.Text;
using System.Text.Json;
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
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly Dictionary<string, Collection> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, Collection> _byId = [];
    private readonly object _catalogGate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _checkpointLoop;
    private uint _nextCollectionId;
    private string? _faulted;
    private int _disposed;

    private RetrievalEngine(string directory, EngineOptions options, ISegmentIndexBuilder? builder)
    {
        _directory = directory;
        _options = options;
        _factory = new SegmentIndexFactory(builder);
        _segmentsRoot = Path.Combine(directory, "segments");
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
    /// acknowledged write. Throws Corrupt naming the file when the log or store is damaged. Sealed segments are
    /// indexed as each collection's schema says (exact, SPANN, Seismic) and their on-disk indexes are reopened, not
    /// rebuilt, while the records they were built from are unchanged; a <paramref name="builder"/> overrides the
    /// schemas with in-memory indexes.
    /// </summary>
    public static RetrievalEngine Open(string directory, EngineOptions? options = null, ISegmentIndexBuilder? builder = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= EngineOptions.Default;
        options.Validate();
        Directory.CreateDirectory(directory);
        return new RetrievalEngine(Path.GetFullPath(directory), options, builder);
    }

    /// <summary>SPANN/Seismic segment indexes this engine built (rather than reopened from disk) since it opened.</summary>
    public long SegmentIndexBuilds => _factory.IndexBuilds;

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
        List<Collection> all;
        lock (_catalogGate) all = [.. _byId.Values];
        foreach (var c in all) await c.WaitForBackgroundAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Compacts the record store's log now (whatever its size) and checkpoints, so overwritten and deleted record
    /// versions stop taking disk. Returns the log's span in bytes before and after. Writes wait while it runs.
    /// </summary>
    public async Task<(long Before, long After)> CompactStoreAsync(CancellationToken cancellationToken = default)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfUnwritable();
            long before = _store.LogBytes;
            _store.CompactLog(0, whole: true);
            await CheckpointLockedAsync(compactStore: false).ConfigureAwait(false);
            return (before, _store.LogBytes);
        }
        finally { _writeGate.Release(); }
    }

    private void OnBackgroundFinished(Collection collection) => MaybeCompact(collection);

    private void MaybeCompact(Collection collection)
    {
        if (!_options.AutoCompact || _disposed != 0 || _faulted is not null) return;
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
        ThrowIfUnwritable();
        var schema = target.Schema;
        if (schema.Dense is not null && string.IsNullOrEmpty(request.DenseIndexDirectory))
            Guard.ThrowInvalid($"collection '{schema.Name}' has a dense field: attach needs a SPANN index directory (dense index)");
        if (schema.Dense is null && !string.IsNullOrEmpty(request.DenseIndexDirectory))
            Guard.ThrowInvalid($"a dense index was given, but collection '{schema.Name}' has no dense field");
        if (schema.Sparse is not null && string.IsNullOrEmpty(request.SparseIndexDirectory))
            Guard.ThrowInvalid($"collection '{schema.Name}' has a sparse field: attach needs a Seismic index directory (sparse index)");
        if (schema.Sparse is null && !string.IsNullOrEmpty(request.SparseIndexDirectory))
            Guard.ThrowInvalid($"a sparse index was given, but collection '{schema.Name}' has no sparse field");

        int rows = -1;
        string[]? documentIds = null;
        if (schema.Dense is not null)
        {
            using var index = SegmentIndexFactory.OpenSpann(Path.GetFullPath(request.DenseIndexDirectory!), schema.Dense, null);
            rows = index.Count;
        }
        if (schema.Sparse is not null)
        {
            using var index = SegmentIndexFactory.OpenSeismic(Path.GetFullPath(request.SparseIndexDirectory!), schema.Sparse, null);
            if (rows >= 0 && index.Count != rows)
                Guard.ThrowInvalid($"the SPANN index has {rows} rows but the Seismic index has {index.Count}; attached indexes must describe the same rows");
            rows = index.Count;
            documentIds = index.Index.DocumentIds;
        }
        if (rows == 0) Guard.ThrowInvalid("the index to attach has no rows");
        var keys = AttachKeys(request, schema, rows, documentIds);
        var payloads = AttachPayloads(request, schema, rows);
        var records = new byte[rows][];
        var hashes = new ulong[rows];
        for (int r = 0; r < rows; r++)
        {
            records[r] = RecordCodec.Encode(new RecordData(keys[r], null, null, 0, payloads?[r]), _options.CompressPayloadBytes);
            hashes[r] = Checksum64.Of(records[r]);
        }

        int sequence = target.Sequences.Allocate();
        var directory = SegmentFiles.SegmentDirectory(_segmentsRoot, target.Id, sequence);
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            Directory.CreateDirectory(directory);
            if (schema.Dense is not null) CopyDirectory(request.DenseIndexDirectory!, Path.Combine(directory, SegmentIndexFactory.DenseDirectory));
            if (schema.Sparse is not null) CopyDirectory(request.SparseIndexDirectory!, Path.Combine(directory, SegmentIndexFactory.SparseDirectory));
            SegmentFiles.WriteRecords(directory, records);
            SegmentFiles.WriteRows(directory, keys, hashes);
            SegmentFiles.WriteManifest(directory, new SegmentManifest(SegmentManifest.FormatName, SegmentManifest.CurrentVersion, rows, true,
                schema.Dense is null ? null : "spann", schema.Sparse is null ? null : "seismic"));
        }
        catch
        {
            TryDeleteDirectory(directory);
            throw;
        }

        int replaced = 0;
        foreach (var key in keys) if (target.Contains(key)) replaced++;
        long until;
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfUnwritable();
            lock (_catalogGate)
            {
                if (!_byId.ContainsKey(target.Id))
                    throw new RetrievalException(ErrorKind.NotFound, $"collection '{target.Name}' was dropped");
            }
            var entry = new WalEntry { Op = WalOp.Attach, CollectionId = target.Id, Sequence = sequence };
            until = _log.Append(entry.Encode());
            Apply(entry);
        }
        finally { _writeGate.Release(); }
        await CommitAsync(until).ConfigureAwait(false);
        MaybeCompact(target);
        return new AttachResult(rows, replaced, sequence);
    }

    private static RecordKey[] AttachKeys(AttachRequest request, CollectionSchema schema, int rows, string[]? documentIds)
    {
        string[]? texts = null;
        string source = "row number";
        if (!string.IsNullOrEmpty(request.IdsPath))
        {
            texts = ReadLines(request.IdsPath, "ids file");
            source = request.IdsPath;
            if (texts.Length != rows) Guard.ThrowInvalid($"ids file {request.IdsPath} has {texts.Length} lines, the index has {rows} rows");
        }
        else if (documentIds is not null)
        {
            texts = documentIds;
            source = "the Seismic index's document ids";
        }
        var keys = new RecordKey[rows];
        var seen = new HashSet<RecordKey>();
        for (int r = 0; r < rows; r++)
        {
            if (texts is null) keys[r] = schema.Key == KeyKind.Integer ? RecordKey.Of(r) : RecordKey.Of(r.ToString(System.Globalization.CultureInfo.InvariantCulture));
            else if (schema.Key == KeyKind.Integer)
            {
                if (!long.TryParse(texts[r], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long id))
                    Guard.ThrowInvalid($"{source}: row {r} id '{texts[r]}' is not an integer, and collection '{schema.Name}' uses integer keys");
                keys[r] = RecordKey.Of(id);
            }
            else
            {
                try { keys[r] = RecordKey.Of(texts[r]); }
                catch (RetrievalException e) { Guard.ThrowInvalid($"{source}: row {r}: {e.Message}"); }
            }
            if (!seen.Add(keys[r])) Guard.ThrowInvalid($"{source}: row {r} repeats id '{keys[r]}'");
        }
        return keys;
    }

    private byte[]?[]? AttachPayloads(AttachRequest request, CollectionSchema schema, int rows)
    {
        if (string.IsNullOrEmpty(request.PayloadsPath)) return null;
        var lines = ReadLines(request.PayloadsPath, "payloads file");
        if (lines.Length != rows) Guard.ThrowInvalid($"payloads file {request.PayloadsPath} has {lines.Length} lines, the index has {rows} rows");
        var payloads = new byte[]?[rows];
        for (int r = 0; r < rows; r++)
        {
            if (lines[r].Length == 0) continue;
            var bytes = Encoding.UTF8.GetBytes(lines[r]);
            if (bytes.Length > _options.MaxPayloadBytes)
                throw new RetrievalException(ErrorKind.ResourceExhausted, $"payloads file {request.PayloadsPath} line {r + 1} is {bytes.Length} bytes, the limit is {_options.MaxPayloadBytes}");
            if (schema.Payload == PayloadKind.Json && !IsJson(bytes))
                Guard.ThrowInvalid($"payloads file {request.PayloadsPath} line {r + 1} is not valid JSON (collection '{schema.Name}' stores JSON payloads)");
            payloads[r] = bytes;
        }
        return payloads;
    }

    private static string[] ReadLines(string path, string what)
    {
        if (!File.Exists(path)) throw new RetrievalException(ErrorKind.NotFound, $"{what} {path} does not exist");
        var lines = File.ReadAllLines(path, Encoding.UTF8);
        int n = lines.Length;
        while (n > 0 && lines[n - 1].Length == 0) n--; // a trailing newline is not a row
        return n == lines.Length ? lines : lines[..n];
    }

    /// <summary>Copies an index directory (flat: index outputs have no subdirectories) and flushes every file to disk.</summary>
    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source))
        {
            var target = Path.Combine(destination, Path.GetFileName(file));
            File.Copy(file, target, overwrite: true);
            using var stream = new FileStream(target, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            stream.Flush(flushToDisk: true);
        }
    }

    private static void TryDeleteDirectory(string directory)
    {
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
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

    private async Task CheckpointLockedAsync(bool compactStore = true)
    {
        if (_faulted is not null) return;
        await _log.CommitAsync().ConfigureAwait(false);
        long replayFrom = _log.Tail;
        if (compactStore) _store.CompactLog(1L << _options.StoreCompactBits);
        var token = await _store.CheckpointAsync().ConfigureAwait(false);
        new EngineManifest(EngineManifest.FormatName, EngineManifest.CurrentVersion, token, replayFrom, _nextCollectionId).Save(_directory);
        await _log.TruncateAsync(replayFrom).ConfigureAwait(false);
        DeleteUnusedSegmentDirectories();
    }

    /// <summary>
    /// Deletes segment directories no live segment uses (compacted away, dropped collections, unfinished builds).
    /// Only after a checkpoint: until then a logged attach may still need its directory for replay.
    /// </summary>
    private void DeleteUnusedSegmentDirectories()
    {
        if (!Directory.Exists(_segmentsRoot)) return;
        foreach (var collectionDirectory in Directory.EnumerateDirectories(_segmentsRoot))
        {
            if (!uint.TryParse(Path.GetFileName(collectionDirectory), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint id)) continue;
            Collection? collection;
            lock (_catalogGate) _byId.TryGetValue(id, out collection);
            if (collection is null)
            {
                TryDeleteDirectory(collectionDirectory);
                continue;
            }
            foreach (int sequence in SegmentFiles.Sequences(_segmentsRoot, id))
                if (!collection.Sequences.IsReserved(sequence)) TryDeleteDirectory(SegmentFiles.SegmentDirectory(_segmentsRoot, id, sequence));
        }
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
        try
        {
            // Index builds and compactions in flight finish first, so their segment directories are complete.
            List<Collection> all;
            lock (_catalogGate) all = [.. _byId.Values];
            foreach (var c in all) await c.WaitForBackgroundAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException) { }
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
            lock (_catalogGate)
                foreach (var c in _byId.Values) c.DisposeSegments();
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
        MaybeCompact(target);
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
                    var collection = NewCollection(entry.CollectionId, schema);
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
                Collection? dropped;
                lock (_catalogGate)
                {
                    if (!_byId.Remove(entry.CollectionId, out dropped)) return;
                    if (_byName.TryGetValue(dropped.Name, out var holder) && holder.Id == dropped.Id) _byName.Remove(dropped.Name);
                }
                // Its index files close now; its segment directories go at the next checkpoint.
                dropped.DisposeSegments();
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
                    collection.Upsert(decoded[i], Checksum64.Of(entry.Records[i]));
                }
                return;
            }
            case WalOp.Attach:
            {
                Collection? collection;
                lock (_catalogGate) _byId.TryGetValue(entry.CollectionId, out collection);
                if (collection is null) return;
                var directory = SegmentFiles.SegmentDirectory(_segmentsRoot, collection.Id, entry.Sequence);
                Segment? segment = collection.FindSegment(entry.Sequence);
                byte[][]? records;
                try
                {
                    if (segment is null) segment = Segment.Load(directory, entry.Sequence, collection.Schema, out records);
                    else records = SegmentFiles.ReadRecords(directory, segment.Count);
                }
                catch (Exception e) when (e is RetrievalException or IOException or UnauthorizedAccessException)
                {
                    throw new RetrievalException(ErrorKind.Corrupt, $"attached segment {directory} cannot be read: {e.Message}");
                }
                if (records is null) throw new RetrievalException(ErrorKind.Corrupt, $"segment {directory} is not an attached segment");
                for (int r = 0; r < records.Length; r++) _store.PutRecord(collection.Id, segment.KeyAt(r), records[r]);
                collection.Attach(segment);
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

    private Collection NewCollection(uint id, CollectionSchema schema) =>
        new(id, schema, _factory, _options.SealRows, _segmentsRoot) { BackgroundWorkFinished = OnBackgroundFinished };

    /// <summary>
    /// Rebuilds the collections from the record store's checkpointed state; drops records of dropped collections.
    /// Segment directories left by earlier runs are reused: a segment row is live when the store still holds
    /// exactly the record (same bytes) it was built from, newest segment first; unreadable directories are
    /// ignored, and the records no segment claims go to the mutable segment (and are sealed and indexed again).
    /// </summary>
    private void LoadStore()
    {
        var records = new List<(uint, byte[])>();
        _store.ScanAll(
            (id, schema) =>
            {
                var s = CollectionSchema.FromJson(schema);
                var collection = NewCollection(id, s);
                _byId[id] = collection;
                if (!_byName.TryGetValue(s.Name, out var holder) || holder.Id < id) _byName[s.Name] = collection;
                _nextCollectionId = Math.Max(_nextCollectionId, id + 1);
            },
            (id, bytes) => records.Add((id, bytes)));
        var byCollection = new Dictionary<uint, Dictionary<RecordKey, (RecordData Data, ulong Hash)>>();
        foreach (var (id, bytes) in records)
        {
            var record = RecordCodec.Decode(bytes, withPayload: false);
            if (!_byId.ContainsKey(id))
            {
                _store.DeleteRecord(id, record.Key);
                continue;
            }
            if (!byCollection.TryGetValue(id, out var map)) byCollection[id] = map = [];
            map[record.Key] = (record, Checksum64.Of(bytes));
        }
        foreach (var (id, collection) in _byId)
        {
            byCollection.TryGetValue(id, out var map);
            map ??= [];
            var sequences = SegmentFiles.Sequences(_segmentsRoot, id);
            var loaded = new List<Segment>();
            var claimed = new HashSet<RecordKey>();
            for (int i = sequences.Count - 1; i >= 0; i--)
            {
                Segment segment;
                try
                {
                    segment = Segment.Load(SegmentFiles.SegmentDirectory(_segmentsRoot, id, sequences[i]), sequences[i], collection.Schema, out _);
                }
                catch (Exception e) when (e is RetrievalException or IOException or UnauthorizedAccessException)
                {
                    continue; // unfinished or damaged: its rows are rebuilt from the store (an attached one's records then fail below)
                }
                int live = 0;
                for (int r = 0; r < segment.Count; r++)
                {
                    var key = segment.KeyAt(r);
                    if (claimed.Contains(key) || !map.TryGetValue(key, out var stored) || stored.Hash != segment.HashAt(r)) continue;
                    claimed.Add(key);
                    segment.Revive(r);
                    segment.SetVectors(r, stored.Data.Dense, stored.Data.Sparse, stored.Data.TextTokens);
                    live++;
                }
                if (live > 0) loaded.Insert(0, segment);
                else segment.Dispose();
            }
            collection.AdoptLoaded(loaded, sequences.Count > 0 ? sequences[^1] + 1 : 0);
            foreach (var (key, stored) in map)
                if (!claimed.Contains(key)) collection.Upsert(stored.Data, stored.Hash);
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
