using System.Collections.Concurrent;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>
/// A SPANN index that takes inserts and deletes in place, the SPFresh way (SOSP'23, LIRE protocol): a vector is
/// appended to the postings its closure + RNG rules choose, a delete flips a bit in a one-byte-per-id version map,
/// and a background rebuilder splits postings over their page limit (balanced 2-means), merges nearly empty ones
/// and reassigns the vectors near a split whose nearest head changed, bumping their version so old copies die.
/// The build it opens (format v3, made by <see cref="SpannBuilder"/>) is never modified: rewritten postings live in
/// memory between checkpoints and are written copy-on-write to a side file by <see cref="Checkpoint"/>, which then
/// replaces one snapshot file atomically. Open returns exactly the last completed checkpoint (or the plain build).
/// Searches never block on updates: they read an immutable posting version and a published head view.
/// See docs/SPFRESH.md.
/// </summary>
public sealed class UpdatableSpannIndex : IDisposable
{
    private readonly UpdateState _state;
    private readonly BackgroundRebuilder _rebuilder;
    private readonly LireRebalancer _rebalancer;
    private readonly PostingSpace _space = new();
    private readonly FileStream _sideFile;
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _baseFile;
    private readonly string _snapshotPath;
    private readonly long _buildId;
    private readonly long _buildBytes;
    private readonly ConcurrentBag<UpdatableSpannSearcher> _searchers = new();
    private readonly ConcurrentBag<HeadSearchScratch> _placers = new();
    private byte[] _userData;
    private bool _disposed;

    private UpdatableSpannIndex(UpdateState state, FileStream sideFile, Microsoft.Win32.SafeHandles.SafeFileHandle baseFile, string snapshotPath, long buildId, long buildBytes, byte[] userData, int threads)
    {
        _state = state;
        _sideFile = sideFile;
        _baseFile = baseFile;
        _snapshotPath = snapshotPath;
        _buildId = buildId;
        _buildBytes = buildBytes;
        _userData = userData;
        LireRebalancer? rebalancer = null;
        _rebuilder = new BackgroundRebuilder(threads, job => rebalancer!.Run(job));
        _rebalancer = rebalancer = new LireRebalancer(state, _rebuilder);
    }

    public int Dimension => _state.Dimension;
    public Metric Metric => _state.Metric;
    /// <summary>Vectors inserted or built and not deleted.</summary>
    public int LiveCount => _state.Versions.LiveCount;
    /// <summary>Live heads (= postings).</summary>
    public int HeadCount => _state.View.LiveHeads;
    /// <summary>Rows a posting may hold before the rebuilder splits it (the page limit in vectors).</summary>
    public int PostingCapacity => _state.Cap;
    public ReadOnlyMemory<byte> UserData => Volatile.Read(ref _userData);

    /// <summary>Called at named points of <see cref="Checkpoint"/> (tests inject crashes here).</summary>
    internal Action<string>? CheckpointFault { get; set; }

    internal UpdateState State => _state;

    public UpdateStatistics Statistics => new()
    {
        Inserts = Interlocked.Read(ref _state.Inserts),
        Deletes = Interlocked.Read(ref _state.Deletes),
        Splits = Interlocked.Read(ref _state.Splits),
        Merges = Interlocked.Read(ref _state.Merges),
        GarbageCollections = Interlocked.Read(ref _state.GarbageCollections),
        ReassignChecked = Interlocked.Read(ref _state.ReassignChecked),
        ReassignedVectors = Interlocked.Read(ref _state.Reassigned),
        ReassignConflicts = Interlocked.Read(ref _state.ReassignConflicts),
        GraphRebuilds = Interlocked.Read(ref _state.GraphRebuilds),
        PendingJobs = _rebuilder.Pending,
        PostingBytesWritten = Interlocked.Read(ref _state.BytesWritten),
        Checkpoints = Volatile.Read(ref _state.Checkpoints),
    };

    /// <summary>
    /// Heads, graph, posting table, version map and the postings held in memory: those rewritten since the last
    /// checkpoint. Persisted postings stay on disk (an extent each) and are read on demand.
    /// </summary>
    public long ResidentBytes
    {
        get
        {
            var view = _state.View;
            long bytes = view.ResidentBytes + _state.Versions.ResidentBytes;
            for (int h = 0; h < view.Count; h++) bytes += view.Posting(h)?.ResidentBytes ?? 0;
            return bytes;
        }
    }

    /// <summary>The build's files plus the side posting file and the snapshot.</summary>
    public long BytesOnDisk => _buildBytes + _sideFile.Length + (File.Exists(_snapshotPath) ? new FileInfo(_snapshotPath).Length : 0);

    /// <summary>
    /// Opens a SPANN directory built by <see cref="SpannBuilder"/> plus the update state its last
    /// <see cref="Checkpoint"/> left there; the index is then exactly that checkpoint (or the plain build if none).
    /// </summary>
    public static UpdatableSpannIndex Open(string directory, UpdatableSpannOptions? options = null)
    {
        options ??= new UpdatableSpannOptions();
        options.Validate();
        var files = SpannIndexReader.Open(directory, new SpannOpenOptions { VerifyPostingChecksums = options.VerifyChecksums });
        var m = files.Manifest;
        if (m.Rerank || m.Storage == SpannStorage.Int8)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"{directory}: in-place updates need postings that hold vectors exactly (f32, or f16 of float16/uint8 input); this index stores {m.Storage.ToName()} of {m.SourceElement} input. Rebuild with --storage f32");
        var layout = new PostingLayout(m.Storage, m.Metric, m.Dimension);
        var side = SidePostingLayout.For(layout);
        int pages = options.PostingPages ?? m.Options.PostingPages;
        int cap = side.Capacity(pages);
        if (cap < 2) Guard.ThrowInvalid($"a posting of {pages} pages holds {cap} {m.Dimension}-dimensional {m.Storage.ToName()} vectors; a split needs room for 2: raise the posting pages");
        var rule = new ReplicaRule(options.ReplicaCount ?? m.Options.ReplicaCount, options.ClosureEpsilon ?? m.Options.ClosureEpsilon, options.RngFactor ?? m.Options.RngFactor);
        long buildId = BuildId(m);
        var snapshotPath = Path.Combine(directory, UpdatableSpannFormat.SnapshotFile);
        var sidePath = Path.Combine(directory, UpdatableSpannFormat.SidePostingsFile);
        var versions = new VersionMap();
        HeadView view;
        byte[] userData = [];
        int d = m.Dimension;
        var sideFile = new FileStream(sidePath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1, FileOptions.RandomAccess);
        Microsoft.Win32.SafeHandles.SafeFileHandle? baseFile = null;
        try
        {
            baseFile = File.OpenHandle(files.PostingsPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            long baseLength = RandomAccess.GetLength(baseFile);
            // Postings stay on disk: the view holds only their extents (rows are read on demand by searches and updates).
            if (File.Exists(snapshotPath))
            {
                var snap = UpdateSnapshot.Read(snapshotPath, d, m.Metric, buildId);
                // Deleted ids keep their version too, so a re-insert goes above every copy still lying in some posting.
                for (int id = 0; id < snap.Versions.Length; id++) if (snap.Versions[id] != VersionMap.Deleted) versions.Load(id, snap.Versions[id]);
                int h = snap.HeadCount;
                var postings = new UpdatablePosting?[Math.Max(16, h)];
                byte[] check = [];
                for (int i = 0; i < h; i++)
                {
                    if (snap.Postings[i] is not PostingExtent e) continue;
                    long bytes = (long)e.Pages * PostingLayout.PageBytes;
                    if (e.InSideFile)
                    {
                        if (e.Offset + bytes > sideFile.Length)
                            throw new DataFormatException(sidePath, $"posting of head {i} at byte {e.Offset} ({e.Pages} pages) lies past the end of the file ({sideFile.Length} bytes): truncated", row: i);
                        if (side.Pages(e.Rows) != e.Pages) throw new DataFormatException(snapshotPath, $"posting of head {i}: {e.Rows} rows cannot take {e.Pages} pages", row: i);
                        if (options.VerifyChecksums)
                        {
                            if (check.Length < bytes) check = new byte[bytes];
                            PostingReader.ReadExactly(sideFile.SafeFileHandle, check.AsSpan(0, (int)bytes), e.Offset, sidePath);
                            if (ChecksummedBinaryFile.Crc32C(0, check.AsSpan(0, (int)bytes)) != e.Checksum)
                                throw new DataFormatException(sidePath, $"posting of head {i} at byte {e.Offset} fails its checksum (corrupted)", row: i, byteOffset: e.Offset);
                        }
                    }
                    else if (e.Offset + Math.Max(bytes, layout.Bytes(e.Rows)) > baseLength)
                    {
                        throw new DataFormatException(snapshotPath, $"posting of head {i} points past the end of {files.PostingsPath}", row: i);
                    }
                    postings[i] = UpdatablePosting.OnDisk(e);
                }
                var vectors = new float[postings.Length * d];
                snap.HeadVectors.CopyTo(vectors, 0);
                var removed = new bool[postings.Length];
                snap.Removed.CopyTo(removed, 0);
                view = new HeadView(d, vectors, removed, postings, h, snap.Graph, snap.Graph.NodeCount);
                userData = snap.UserData;
            }
            else
            {
                int h = files.Heads.Count;
                var postings = new UpdatablePosting?[Math.Max(16, h)];
                var vectors = new float[postings.Length * d];
                DecodeHeads(files.Heads, m.Metric, vectors);
                var dir = files.Postings;
                var ids = new byte[4096];
                for (int i = 0; i < h; i++)
                {
                    int n = dir.Counts[i];
                    // Only the id column is read here (to mark the build's ids live at version 0).
                    if (ids.Length < n * 4) ids = new byte[n * 4];
                    if (n > 0) PostingReader.ReadExactly(baseFile, ids.AsSpan(0, n * 4), dir.Offsets[i], files.PostingsPath);
                    foreach (int id in MemoryMarshal.Cast<byte, int>(ids.AsSpan(0, n * 4))) if (versions.Get(id) != 0) versions.Load(id, 0);
                    postings[i] = UpdatablePosting.OnDisk(new PostingExtent(false, dir.Offsets[i], dir.Pages[i], n, 0));
                }
                view = new HeadView(d, vectors, new bool[postings.Length], postings, h, files.Graph, files.Graph.NodeCount);
            }
        }
        catch
        {
            baseFile?.Dispose();
            sideFile.Dispose();
            throw;
        }
        var reader = new PostingReader(baseFile, files.PostingsPath, sideFile.SafeFileHandle, sidePath, layout);
        var state = new UpdateState(reader, view, versions, layout, m.Metric, rule, cap, options, m.Options.GraphDegree, m.Options.GraphBuildCandidates, m.Options.GraphAlpha);
        var index = new UpdatableSpannIndex(state, sideFile, baseFile, snapshotPath, buildId, files.BytesOnDisk, userData, options.BackgroundThreads);
        index.ResetSpace();
        // Postings over the limit (the build's page rule has no version byte; or a crash lost queued splits) are split now.
        for (int h = 0; h < view.Count; h++)
            if (view.IsLive(h) && view.Posting(h) is { } p) index._rebalancer.CheckSize(h, p);
        return index;
    }

    private static long BuildId(SpannManifest m)
    {
        ulong id = 0;
        foreach (var f in m.Files) id = id * 1_000_003 ^ f.Checksum ^ (ulong)f.Bytes;
        return (long)(id & long.MaxValue);
    }

    /// <summary>The build's heads as float32 rows in clustering geometry (unit length under cosine).</summary>
    private static void DecodeHeads(HeadSet heads, Metric metric, float[] destination)
    {
        int d = heads.Dimension;
        for (int h = 0; h < heads.Count; h++)
        {
            var row = destination.AsSpan(h * d, d);
            if (heads.Float32 is { } f32) f32.AsSpan(h * d, d).CopyTo(row);
            else if (heads.Float16 is { } f16) TensorPrimitives.ConvertToSingle(f16.AsSpan(h * d, d), row);
            else for (int i = 0; i < d; i++) row[i] = heads.UInt8![h * d + i];
            SpannBuilder.Prepare(row, row, metric);
        }
    }

    /// <summary>
    /// Inserts vectors under caller-chosen ids (any id &gt;= 0; an existing id is replaced: its version is bumped so
    /// every old copy dies). Head selection runs without the update lock; then each touched posting is rewritten
    /// once (copy-on-write) with all of the batch's rows for it, and postings over the limit are queued for a split.
    /// </summary>
    public void Insert(ReadOnlySpan<int> ids, DenseVectors vectors)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(vectors);
        Guard.SameDimension(Dimension, vectors.Dimension, "the inserted vectors");
        if (ids.Length != vectors.Count) Guard.ThrowInvalid($"{ids.Length} ids for {vectors.Count} vectors: pass one id per vector");
        CheckIds(ids, "insert");
        int n = ids.Length, d = Dimension;
        if (n == 0) return;
        var layout = _state.Layout;
        var raw = new float[d];
        var geometry = new float[(long)n * d];
        var stored = new byte[(long)n * layout.RowBytes];
        var factors = new float[n];
        var encoder = new PostingRowEncoder(layout, Metric);
        var work = new float[d];
        for (int i = 0; i < n; i++)
        {
            if (!VectorSource.DecodeFinite(vectors, i, raw)) Guard.ThrowInvalid($"inserted vector {i} (id {ids[i]}) contains NaN or infinity");
            encoder.Encode(raw, work, stored.AsSpan(i * layout.RowBytes, layout.RowBytes), out factors[i], out _);
            SpannBuilder.Prepare(raw, geometry.AsSpan(i * d, d), Metric);
        }
        int r = _state.Rule.Replicas;
        var chosen = new int[n * r];
        var counts = new int[n];
        var scratch = _placers.TryTake(out var s) ? s : new HeadSearchScratch(d);
        try
        {
            var view = _state.View;
            for (int i = 0; i < n; i++) counts[i] = _state.Place(view, geometry.AsSpan(i * d, d), scratch, chosen.AsSpan(i * r, r));
            lock (_state.Mutate)
            {
                view = _state.View;
                var groups = new Dictionary<int, UpdatablePosting.Builder>();
                for (int i = 0; i < n; i++)
                {
                    var mine = chosen.AsSpan(i * r, counts[i]);
                    bool stale = mine.IsEmpty;
                    foreach (int h in mine) if (!view.IsLive(h)) stale = true;
                    // A split or merge removed a chosen head meanwhile: choose again against the current heads.
                    if (stale) counts[i] = _state.Place(view, geometry.AsSpan(i * d, d), scratch, chosen.AsSpan(i * r, r));
                    if (counts[i] == 0) throw new RetrievalException(ErrorKind.Internal, "no live head to insert into");
                    byte version = _state.Versions.Bump(ids[i]);
                    foreach (int h in chosen.AsSpan(i * r, counts[i]))
                    {
                        if (!groups.TryGetValue(h, out var b)) groups[h] = b = _state.NewBuilder();
                        b.Add(ids[i], version, stored.AsSpan(i * layout.RowBytes, layout.RowBytes), factors[i]);
                    }
                }
                foreach (var (h, b) in groups) _rebalancer.Append(h, b.Build());
            }
        }
        finally
        {
            _placers.Add(scratch);
        }
        Interlocked.Add(ref _state.Inserts, n);
    }

    /// <summary>Deletes ids (a version-map tombstone; their posting entries are dropped when those postings are next rewritten). Unknown ids are ignored.</summary>
    public void Delete(ReadOnlySpan<int> ids)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckIds(ids, "delete");
        int deleted = 0;
        foreach (int id in ids) if (_state.Versions.Delete(id)) deleted++;
        Interlocked.Add(ref _state.Deletes, deleted);
    }

    private static void CheckIds(ReadOnlySpan<int> ids, string what)
    {
        var seen = new HashSet<int>(ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] < 0) Guard.ThrowInvalid($"{what}: id {ids[i]} at position {i} is negative; ids must be >= 0");
            if (!seen.Add(ids[i])) Guard.ThrowInvalid($"{what}: id {ids[i]} appears twice in one batch (position {i}); pass each id once");
        }
    }

    /// <summary>
    /// Top-k of one query, same contract as <see cref="SpannIndex.SearchOne(ReadOnlySpan{float}, int, SpannSearchParameters, Span{int}, Span{float})"/>:
    /// live ids only, each at most once (replicas de-duplicated), best first; scores in the metric's units (squared L2
    /// ascending, ip/cosine descending); pads with -1 / NaN; returns how many were found. Never blocks on updates.
    /// A scanned posting with at most MergeThreshold live vectors is queued for a merge (SPFresh's trigger).
    /// </summary>
    public int SearchOne(ReadOnlySpan<float> query, int k, SpannSearchParameters parameters, Span<int> ids, Span<float> scores)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(parameters);
        Guard.ValidK(k);
        if (ids.Length < k || scores.Length < k) Guard.ThrowInvalid($"output spans must hold k = {k} entries, got {ids.Length} ids and {scores.Length} scores");
        parameters.Validate();
        Guard.SameDimension(Dimension, query.Length, "the query");
        if (!RowKernel.IsFinite<Float32Decoder, float>(ref MemoryMarshal.GetReference(query), query.Length)) Guard.ThrowInvalid("the query contains NaN or infinity");
        var s = _searchers.TryTake(out var rented) ? rented : new UpdatableSpannSearcher(Dimension);
        try { return Search(query, k, parameters, ids, scores, s); }
        finally { _searchers.Add(s); }
    }

    private int Search(ReadOnlySpan<float> query, int k, SpannSearchParameters p, Span<int> ids, Span<float> scores, UpdatableSpannSearcher s)
    {
        var q = s.Query;
        query.CopyTo(q);
        bool l2 = Metric == Metric.L2, cosine = Metric == Metric.Cosine;
        if (cosine) TensorPrimitives.Multiply(q, DenseKernels.InverseNorm(DenseKernels.SquaredNorm(q)), q);
        var view = _state.View;
        int want = Math.Max(1, Math.Min(p.Heads, view.Count));
        s.EnsureHeads(want);
        int heads = view.Nearest(q, want, p.BeamFor(want), dot: Metric == Metric.InnerProduct, s.Heads, s.HeadIds, s.HeadGoodness);
        heads = Prune(s.HeadGoodness.AsSpan(0, heads), p.PruneEpsilon);
        var heap = s.Heap(k);
        s.Seen.Clear();
        var versions = _state.Versions;
        int d = Dimension;
        for (int i = 0; i < heads; i++)
        {
            int head = s.HeadIds[i];
            var posting = view.Posting(head);
            if (posting is null || posting.Count == 0) continue;
            // An in-memory posting (rewritten since the last checkpoint) is scanned in place; one on disk is read into
            // the searcher's buffer and scanned there (no decode, no allocation once the buffer has grown).
            var rows = _state.Reader.Rows(posting, ref s.Buffer);
            int count = rows.Count;
            s.EnsureScores(count);
            ref float qRef = ref MemoryMarshal.GetArrayDataReference(q);
            ref byte vectors = ref MemoryMarshal.GetReference(rows.Vectors);
            ref float sc = ref MemoryMarshal.GetArrayDataReference(s.Scores);
            if (_state.Layout.Storage == SpannStorage.Float32)
            {
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Float32Decoder, float>(ref qRef, ref Unsafe.As<byte, float>(ref vectors), count, d, ref sc);
                else RowKernel.ScoreRows<DotProductAccumulator, Float32Decoder, float>(ref qRef, ref Unsafe.As<byte, float>(ref vectors), count, d, ref sc);
            }
            else
            {
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Float16Decoder, Half>(ref qRef, ref Unsafe.As<byte, Half>(ref vectors), count, d, ref sc);
                else RowKernel.ScoreRows<DotProductAccumulator, Float16Decoder, Half>(ref qRef, ref Unsafe.As<byte, Half>(ref vectors), count, d, ref sc);
            }
            var rowIds = rows.Ids;
            var factors = rows.Factors;
            int live = 0;
            for (int r = 0; r < count; r++)
            {
                int id = rowIds[r];
                if (!versions.IsCurrent(id, rows.Version(r))) continue;
                live++;
                float g = l2 ? -s.Scores[r] : cosine ? s.Scores[r] * factors[r] : s.Scores[r];
                if (heap.IsFull && !(g > heap.Threshold)) continue;
                if (!s.Seen.Add(id)) continue;
                heap.Push(id, g);
            }
            if (live <= _state.Options.MergeThreshold && _state.Options.MergeOnSearch && view.IsLive(head)) _rebuilder.Enqueue(RebuildKind.Merge, head);
        }
        int found = heap.DrainSorted(ids, scores);
        if (l2) for (int i = 0; i < found; i++) scores[i] = -scores[i];
        ids[found..k].Fill(-1);
        scores[found..k].Fill(float.NaN);
        return found;
    }

    /// <summary>eps2 pruning as in <see cref="SpannSearchPipeline"/>, on head goodness (-squared L2 in geometry, or the inner product).</summary>
    private int Prune(ReadOnlySpan<float> goodness, double epsilon)
    {
        if (epsilon < 0 || goodness.Length <= 1) return goodness.Length;
        float best = goodness[0];
        for (int j = 1; j < goodness.Length; j++)
        {
            float g = goodness[j];
            bool keep = Metric switch
            {
                Metric.L2 => MathF.Sqrt(-g) <= (1 + epsilon) * MathF.Sqrt(-best),
                // Unit vectors: 1 - cos = |q - h|^2 / 2.
                Metric.Cosine => -g / 2 <= (1 + epsilon) * (-best / 2),
                _ => best - g <= epsilon * MathF.Abs(best),
            };
            if (!keep) return j;
        }
        return goodness.Length;
    }

    /// <summary>Blocks until the background rebuilder has no split, merge, reassign or graph job left (including those jobs' follow-ups).</summary>
    public void WaitForBackground()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _rebuilder.WaitForIdle();
    }

    /// <summary>
    /// Persists everything atomically: postings changed since the last checkpoint are written to free extents of the
    /// side file (never over bytes the last snapshot references) and flushed, then one snapshot file (heads, removed
    /// flags, graph, version map, posting map, <paramref name="userData"/>) replaces the old one by rename. A crash at
    /// any point leaves the previous checkpoint intact. Updates wait meanwhile; searches do not.
    /// </summary>
    public void Checkpoint(ReadOnlySpan<byte> userData)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var data = userData.ToArray();
        lock (_state.Mutate)
        {
            var view = _state.View;
            int h = view.Count, d = Dimension;
            var extents = new PostingExtent?[h];
            var side = _state.Side;
            long written = 0;
            for (int i = 0; i < h; i++)
            {
                var p = view.Posting(i);
                if (p is null) continue;
                if (p.Persisted is null)
                {
                    var bytes = side.Encode(p);
                    int pages = bytes.Length / PostingLayout.PageBytes;
                    long offset = _space.Allocate(pages) * PostingLayout.PageBytes;
                    RandomAccess.Write(_sideFile.SafeFileHandle, bytes, offset);
                    p.Persisted = new PostingExtent(true, offset, pages, p.Count, ChecksummedBinaryFile.Crc32C(0, bytes));
                    written += bytes.Length;
                }
                extents[i] = p.Persisted;
            }
            _sideFile.Flush(flushToDisk: true);
            CheckpointFault?.Invoke("postings-written");
            var removed = new bool[h];
            for (int i = 0; i < h; i++) removed[i] = !view.IsLive(i);
            var snapshot = new UpdateSnapshot(d, Metric, view.Vectors.AsSpan(0, h * d).ToArray(), removed, view.Graph, _state.Versions.Copy(), extents,
                _buildId, _sideFile.Length, data);
            snapshot.Write(_snapshotPath);
            CheckpointFault?.Invoke("snapshot-written");
            // Written postings leave memory: the slot now holds only the extent. A search that already holds the
            // in-memory object keeps scanning it (same rows); later ones read the extent.
            for (int i = 0; i < h; i++)
                if (view.Posting(i) is { IsLoaded: true, Persisted: PostingExtent e }) Volatile.Write(ref view.Postings[i], UpdatablePosting.OnDisk(e));
            Volatile.Write(ref _userData, data);
            Interlocked.Add(ref _state.BytesWritten, written);
            Interlocked.Increment(ref _state.Checkpoints);
            ResetSpace();
        }
    }

    /// <summary>Free side-file space = everything the current snapshot does not reference (call under the update lock, or while opening).</summary>
    private void ResetSpace()
    {
        var view = _state.View;
        var used = new List<(long, long)>();
        for (int h = 0; h < view.Count; h++)
            if (view.Posting(h)?.Persisted is { InSideFile: true } e) used.Add((e.Offset / PostingLayout.PageBytes, e.Pages));
        _space.Reset(used, _sideFile.Length);
    }

    /// <summary>Stops the rebuilder (queued jobs are dropped: they are redone from the data when needed) and closes files. Does not checkpoint.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _rebuilder.Dispose();
        _sideFile.Dispose();
        _baseFile.Dispose();
        while (_searchers.TryTake(out _)) { }
    }
}
