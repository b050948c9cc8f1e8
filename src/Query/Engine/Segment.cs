using System.Buffers;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Query.Engine;

/// <summary>
/// A run of rows of one collection. While mutable it takes appended rows and is scanned exactly row by row; once
/// sealed its vectors are frozen into immutable indexes (<see cref="SegmentIndexFactory"/>). Deleted and overwritten
/// rows are tombstoned in place (<see cref="IsDead"/>) and filtered from every search. Callers serialise writes
/// against reads (the collection's lock); searches may run concurrently with each other.
/// </summary>
internal sealed class Segment : IDisposable
{
    private RecordKey[] _keys;
    private ulong[] _hashes;
    private float[]?[] _dense;
    private SparseTerms?[] _sparse;
    private float[] _inverseNorms;
    private int[] _textTokens;
    private bool[] _dead;
    private int _count;
    private IDenseSegmentIndex? _denseIndex;
    private ISparseSegmentIndex? _sparseIndex;

    [ThreadStatic] private static TopKHeap? t_heap;

    public Segment(int capacity)
    {
        _keys = new RecordKey[capacity];
        _hashes = new ulong[capacity];
        _dense = new float[]?[capacity];
        _sparse = new SparseTerms?[capacity];
        _inverseNorms = new float[capacity];
        _textTokens = new int[capacity];
        _dead = new bool[capacity];
    }

    public int Count => _count;
    public int DeadCount { get; private set; }
    public int LiveCount => _count - DeadCount;
    /// <summary>No more rows are appended (its indexes may still be building: until then it is scanned exactly).</summary>
    public bool IsSealed { get; private set; }
    /// <summary>Whether its indexes are installed (or it was sealed without any).</summary>
    public bool IsIndexed => Volatile.Read(ref _denseIndex) is not null || Volatile.Read(ref _sparseIndex) is not null;
    /// <summary>Came from an attached index: rows carry no vectors (the indexes hold them), so it is never merged.</summary>
    public bool IsAttached { get; private init; }
    /// <summary>Its directory's sequence under the collection's segment directory, or -1 when it has none.</summary>
    public int Sequence { get; set; } = -1;

    public RecordKey KeyAt(int row) => _keys[row];
    public ulong HashAt(int row) => _hashes[row];
    /// <summary>The row's dense vector while the segment holds it (null once <see cref="ReleaseDenseVectors"/> ran, and for attached rows).</summary>
    public float[]? DenseAt(int row) => _dense[row];
    public SparseTerms? SparseAt(int row) => _sparse[row];
    public bool IsDead(int row) => _dead[row];
    public int TextTokensAt(int row) => _textTokens[row];

    public int Append(RecordKey key, float[]? dense, SparseTerms? sparse, int textTokens, ulong hash)
    {
        if (IsSealed) throw new InvalidOperationException("segment is sealed");
        if (_count == _keys.Length) Grow();
        int row = _count++;
        _keys[row] = key;
        _hashes[row] = hash;
        SetVectors(row, dense, sparse, textTokens);
        return row;
    }

    /// <summary>Fills a row's vectors (a reloaded segment learns them from the record store).</summary>
    public void SetVectors(int row, float[]? dense, SparseTerms? sparse, int textTokens)
    {
        _dense[row] = dense;
        _sparse[row] = sparse;
        _textTokens[row] = textTokens;
        _inverseNorms[row] = dense is null ? 0 : DenseKernels.InverseNorm(DenseKernels.Dot(dense, dense));
    }

    public void Kill(int row)
    {
        if (_dead[row]) return;
        _dead[row] = true;
        DeadCount++;
    }

    public void Revive(int row)
    {
        if (!_dead[row]) return;
        _dead[row] = false;
        DeadCount--;
    }

    /// <summary>Stops appends; the rows stay searchable by exact scan until <see cref="BuildIndexes"/> installs indexes.</summary>
    public void Freeze() => IsSealed = true;

    /// <summary>
    /// Builds the segment's indexes (the schema decides which; see <see cref="SegmentIndexFactory"/>) and installs
    /// them. With a <paramref name="directory"/> and an on-disk index kind, the indexes, rows.bin and segment.json
    /// are written there so a reopen finds them. Runs without any lock: only <see cref="IsDead"/> changes meanwhile.
    /// </summary>
    /// <param name="denseOf">
    /// Row -> dense vector; null reads the rows' own vectors. A compaction passes the record store here, so the
    /// merged rows' vectors stream from disk into the build instead of being copied into the heap. A null answer
    /// (the record was deleted or overwritten since) is indexed as a stand-in: such a row is tombstoned before the
    /// segment is ever searched.
    /// </param>
    public void BuildIndexes(CollectionSchema schema, SegmentIndexFactory factory, string? directory, Func<int, float[]?>? denseOf = null)
    {
        IsSealed = true;
        if (_count == 0) return;
        denseOf ??= r => _dense[r];
        bool persist = directory is not null && factory.Persists(schema, _count);
        if (persist)
        {
            if (Directory.Exists(directory)) Directory.Delete(directory!, recursive: true);
            Directory.CreateDirectory(directory!);
        }
        IDenseSegmentIndex? dense = null;
        ISparseSegmentIndex? sparse = null;
        try
        {
            if (schema.Dense is { } denseField)
            {
                if (persist && factory.UsesSpann(schema, _count)) dense = factory.BuildSpannFromRows(schema, _count, denseOf, directory!);
                else
                {
                    var values = new float[(long)_count * denseField.Dimension];
                    for (int r = 0; r < _count; r++) denseOf(r)?.CopyTo(values, (long)r * denseField.Dimension);
                    dense = factory.BuildDense(schema, DenseVectors.FromFloat32(values, _count, denseField.Dimension), persist ? directory : null);
                }
            }
            if (schema.Sparse is { } sparseField)
            {
                var offsets = new long[_count + 1];
                for (int r = 0; r < _count; r++) offsets[r + 1] = offsets[r] + (_sparse[r]?.Count ?? 0);
                var indices = new int[offsets[^1]];
                var weights = new float[offsets[^1]];
                for (int r = 0; r < _count; r++)
                {
                    if (_sparse[r] is not { } terms) continue;
                    terms.Indices.CopyTo(indices, offsets[r]);
                    terms.Values.CopyTo(weights, offsets[r]);
                }
                sparse = factory.BuildSparse(schema, new SparseMatrix(_count, sparseField.VocabularySize, offsets, indices, weights), persist ? directory : null);
            }
            if (persist)
            {
                SegmentFiles.WriteRows(directory!, _keys.AsSpan(0, _count), _hashes.AsSpan(0, _count));
                SegmentFiles.WriteManifest(directory!, new SegmentManifest(SegmentManifest.FormatName, SegmentManifest.CurrentVersion, _count, false,
                    dense is UpdatableSpannSegmentIndex ? SegmentIndexFactory.UpdatableSpannKind : dense is SpannSegmentIndex ? "spann" : dense is null ? null : "exact",
                    sparse is SeismicSegmentIndex ? "seismic" : sparse is null ? null : "exact"));
            }
        }
        catch
        {
            dense?.Dispose();
            sparse?.Dispose();
            throw;
        }
        Install(dense, sparse);
    }

    /// <summary>Whether an index (SPANN or exact) serves the dense field, so the rows' own vectors are not needed for search.</summary>
    public bool HasDenseIndex => Volatile.Read(ref _denseIndex) is not null;

    /// <summary>
    /// Drops the rows' in-heap dense vectors once an index serves the field: the index (SPANN postings on disk, or
    /// the exact index's own copy) and the record store hold them, so keeping a third copy would double the heap.
    /// The caller holds the collection's write lock: an exact scan that started before the index was installed may
    /// still be reading them.
    /// </summary>
    public void ReleaseDenseVectors()
    {
        if (!HasDenseIndex) return;
        Array.Clear(_dense, 0, _count);
    }

    private void Install(IDenseSegmentIndex? dense, ISparseSegmentIndex? sparse)
    {
        lock (_installGate)
        {
            if (_disposed)
            {
                // Compacted away while its indexes were building.
                dense?.Dispose();
                sparse?.Dispose();
                return;
            }
            Volatile.Write(ref _sparseIndex, sparse);
            Volatile.Write(ref _denseIndex, dense);
        }
    }

    private bool _disposed;
    private readonly object _installGate = new();

    /// <summary>
    /// Reopens a persisted segment directory: rows (all dead until the caller revives those the record store
    /// confirms) and its on-disk indexes; a field indexed exactly is scanned. Attached segments also return their
    /// record bytes. Throws (Corrupt/NotFound/Incompatible, naming the file) when anything is missing or damaged.
    /// </summary>
    public static Segment Load(string directory, int sequence, CollectionSchema schema, out byte[][]? attachedRecords)
    {
        var manifest = SegmentFiles.ReadManifest(directory)
            ?? throw new RetrievalException(ErrorKind.NotFound, $"segment directory {directory} has no {SegmentManifest.FileName} (unfinished)");
        if ((schema.Dense is null) != (manifest.Dense is null) || (schema.Sparse is null) != (manifest.Sparse is null))
            throw new RetrievalException(ErrorKind.Incompatible, $"segment {directory} has fields dense={manifest.Dense ?? "none"} sparse={manifest.Sparse ?? "none"}, which do not match the collection schema");
        IDenseSegmentIndex? dense = null;
        ISparseSegmentIndex? sparse = null;
        RecordKey[] keys;
        ulong[] hashes;
        try
        {
            var denseDirectory = Path.Combine(directory, SegmentIndexFactory.DenseDirectory);
            if (manifest.Dense == SegmentIndexFactory.UpdatableSpannKind)
            {
                // Rows absorbed in place since the build are listed in the index's last checkpoint, not in rows.bin.
                var updatable = SegmentIndexFactory.OpenUpdatableSpann(denseDirectory, schema.Dense!);
                dense = updatable;
                (keys, hashes) = updatable.Index.UserData.Length > 0
                    ? SegmentFiles.DecodeRows(updatable.Index.UserData.Span, denseDirectory)
                    : SegmentFiles.ReadRows(directory, manifest.Rows);
            }
            else
            {
                (keys, hashes) = SegmentFiles.ReadRows(directory, manifest.Rows);
                if (manifest.Dense == "spann") dense = SegmentIndexFactory.OpenSpann(denseDirectory, schema.Dense!, manifest.Rows);
                else if (manifest.Dense is not null && (manifest.Dense != "exact" || manifest.Attached))
                    throw new RetrievalException(ErrorKind.Incompatible, $"segment {directory}: unknown dense index '{manifest.Dense}'");
            }
            if (manifest.Sparse == "seismic") sparse = SegmentIndexFactory.OpenSeismic(Path.Combine(directory, SegmentIndexFactory.SparseDirectory), schema.Sparse!, manifest.Rows);
            else if (manifest.Sparse is not null && (manifest.Sparse != "exact" || manifest.Attached))
                throw new RetrievalException(ErrorKind.Incompatible, $"segment {directory}: unknown sparse index '{manifest.Sparse}'");
        }
        catch
        {
            dense?.Dispose();
            throw;
        }
        int rows = keys.Length;
        attachedRecords = manifest.Attached ? SegmentFiles.ReadRecords(directory, rows) : null;
        var segment = new Segment(Math.Max(1, rows)) { IsAttached = manifest.Attached, Sequence = sequence };
        for (int r = 0; r < rows; r++) segment.Append(keys[r], null, null, 0, hashes[r]);
        for (int r = 0; r < rows; r++) segment.Kill(r);
        segment.IsSealed = true;
        segment.Install(dense, sparse);
        return segment;
    }

    /// <summary>The in-place-updatable SPANN index serving the dense field, when this segment is a collection's base.</summary>
    public UpdatableSpannIndex? Updatable => (Volatile.Read(ref _denseIndex) as UpdatableSpannSegmentIndex)?.Index;

    /// <summary>
    /// Appends a row to a sealed base segment (an absorbed row, already inserted into <see cref="Updatable"/> under
    /// this row id). The caller holds the collection's write lock.
    /// </summary>
    public int AppendAbsorbed(RecordKey key, ulong hash, SparseTerms? sparse, int textTokens)
    {
        if (_count == _keys.Length) Grow();
        int row = _count++;
        _keys[row] = key;
        _hashes[row] = hash;
        _sparse[row] = sparse;
        _textTokens[row] = textTokens;
        return row;
    }

    /// <summary>Keys and record hashes of every row, dead ones included (what a base segment's checkpoint records).</summary>
    public (RecordKey[] Keys, ulong[] Hashes) RowsSnapshot() => (_keys.AsSpan(0, _count).ToArray(), _hashes.AsSpan(0, _count).ToArray());

    public void Dispose()
    {
        lock (_installGate) _disposed = true;
        Interlocked.Exchange(ref _denseIndex, null)?.Dispose();
        Interlocked.Exchange(ref _sparseIndex, null)?.Dispose();
    }

    /// <summary>
    /// Best live rows for a dense query as (row, goodness) where goodness is higher-is-better (negated squared L2
    /// distance for L2; the score itself for ip/cosine). Returns how many were written (at most k).
    /// </summary>
    public int SearchDense(ReadOnlySpan<float> query, float queryInverseNorm, Metric metric, int k, Span<int> rows, Span<float> goodness)
    {
        if (LiveCount == 0) return 0;
        if (Volatile.Read(ref _denseIndex) is { } denseIndex)
            return LiveTop(new DenseAsk(denseIndex, query), k, !metric.HigherIsBetter(), rows, goodness);
        var heap = Heap(k);
        for (int r = 0; r < _count; r++)
        {
            if (_dead[r]) continue;
            var row = _dense[r]!;
            float g = metric switch
            {
                Metric.L2 => -DenseKernels.SquaredL2(query, row),
                Metric.InnerProduct => DenseKernels.Dot(query, row),
                _ => DenseKernels.Dot(query, row) * queryInverseNorm * _inverseNorms[r],
            };
            heap.Push(r, g);
        }
        return heap.DrainSorted(rows, goodness);
    }

    /// <summary>Best live rows by sparse inner product (only rows sharing a term with the query).</summary>
    public int SearchSparse(SparseTerms query, int k, Span<int> rows, Span<float> goodness)
    {
        if (LiveCount == 0 || query.Count == 0) return 0;
        if (Volatile.Read(ref _sparseIndex) is { } sparseIndex)
            return LiveTop(new SparseAsk(sparseIndex, query), k, negate: false, rows, goodness);
        var heap = Heap(k);
        for (int r = 0; r < _count; r++)
        {
            if (_dead[r]) continue;
            var doc = _sparse[r]!;
            if (doc.Count == 0) continue;
            float score = SparseDot.Dot(query.Indices, query.Values, doc.Indices, doc.Values);
            // Like the exact sparse index: a document that shares no term with the query is not a match.
            if (score == 0 && !SharesTerm(query.Indices, doc.Indices)) continue;
            heap.Push(r, score);
        }
        return heap.DrainSorted(rows, goodness);
    }

    /// <summary>
    /// How many rows to ask an index for first: k plus the tombstones (so k live rows survive filtering) when
    /// that is modest, else 2k+16 and grow 4x while dead rows crowd out the top (a big attached segment with many
    /// deletes must not turn every search into a top-100,000).
    /// </summary>
    private interface IIndexAsk
    {
        int Search(int wanted, Span<int> ids, Span<float> scores);
    }

    private readonly ref struct DenseAsk(IDenseSegmentIndex index, ReadOnlySpan<float> query) : IIndexAsk
    {
        private readonly ReadOnlySpan<float> _query = query;
        public int Search(int wanted, Span<int> ids, Span<float> scores) => index.Search(_query, wanted, ids, scores);
    }

    private readonly struct SparseAsk(ISparseSegmentIndex index, SparseTerms query) : IIndexAsk
    {
        public int Search(int wanted, Span<int> ids, Span<float> scores) => index.Search(query, wanted, ids, scores);
    }

    /// <summary>
    /// The best k live rows from a segment index that knows nothing of tombstones: asks for a little more than k,
    /// then four times as many until k live rows survive, never more than k + the dead rows.
    /// </summary>
    private int LiveTop<TAsk>(TAsk ask, int k, bool negate, Span<int> rows, Span<float> goodness)
        where TAsk : IIndexAsk, allows ref struct
    {
        int enough = Math.Min(_count, k + DeadCount);
        int wanted = FirstAsk(k, enough);
        while (true)
        {
            var ids = ArrayPool<int>.Shared.Rent(wanted);
            var scores = ArrayPool<float>.Shared.Rent(wanted);
            try
            {
                int found = ask.Search(wanted, ids, scores);
                int w = 0;
                int committed = _count;
                for (int i = 0; i < found && w < k; i++)
                {
                    // An in-place index may already hold rows an absorb has not committed to this segment yet.
                    if ((uint)ids[i] >= (uint)committed || _dead[ids[i]]) continue;
                    rows[w] = ids[i];
                    goodness[w++] = negate ? -scores[i] : scores[i];
                }
                if (w >= k || found < wanted || wanted >= enough) return w;
            }
            finally
            {
                ArrayPool<int>.Shared.Return(ids);
                ArrayPool<float>.Shared.Return(scores);
            }
            wanted = (int)Math.Min(enough, 4L * wanted);
        }
    }

    private static int FirstAsk(int k, int enough) => Math.Min(enough, Math.Max(k, Math.Min(enough, 2 * k + 16)));

    private static bool SharesTerm(int[] a, int[] b)
    {
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            if (a[i] == b[j]) return true;
            if (a[i] < b[j]) i++; else j++;
        }
        return false;
    }

    private static TopKHeap Heap(int k)
    {
        var heap = t_heap;
        if (heap is null || heap.Capacity != k) t_heap = heap = new TopKHeap(k);
        heap.Clear();
        return heap;
    }

    private void Grow()
    {
        int capacity = Math.Max(16, _keys.Length * 2);
        Array.Resize(ref _keys, capacity);
        Array.Resize(ref _hashes, capacity);
        Array.Resize(ref _dense, capacity);
        Array.Resize(ref _sparse, capacity);
        Array.Resize(ref _inverseNorms, capacity);
        Array.Resize(ref _textTokens, capacity);
        Array.Resize(ref _dead, capacity);
    }
}
