using System.Buffers;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Query.Engine;

/// <summary>
/// A run of rows of one collection. While mutable it takes appended rows and is scanned exactly row by row; once
/// sealed its vectors are frozen into immutable indexes (<see cref="ISegmentIndexBuilder"/>). Deleted and overwritten
/// rows are tombstoned in place (<see cref="IsDead"/>) and filtered from every search. Callers serialise writes
/// against reads (the collection's lock); searches may run concurrently with each other.
/// </summary>
internal sealed class Segment
{
    private RecordKey[] _keys;
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
        _dense = new float[]?[capacity];
        _sparse = new SparseTerms?[capacity];
        _inverseNorms = new float[capacity];
        _textTokens = new int[capacity];
        _dead = new bool[capacity];
    }

    public int Count => _count;
    public int DeadCount { get; private set; }
    public int LiveCount => _count - DeadCount;
    public bool IsSealed { get; private set; }

    public RecordKey KeyAt(int row) => _keys[row];
    public float[]? DenseAt(int row) => _dense[row];
    public SparseTerms? SparseAt(int row) => _sparse[row];
    public bool IsDead(int row) => _dead[row];
    public int TextTokensAt(int row) => _textTokens[row];

    public int Append(RecordKey key, float[]? dense, SparseTerms? sparse, int textTokens)
    {
        if (IsSealed) throw new InvalidOperationException("segment is sealed");
        if (_count == _keys.Length) Grow();
        int row = _count++;
        _keys[row] = key;
        _dense[row] = dense;
        _sparse[row] = sparse;
        _textTokens[row] = textTokens;
        _inverseNorms[row] = dense is null ? 0 : DenseKernels.InverseNorm(DenseKernels.Dot(dense, dense));
        return row;
    }

    public void Kill(int row)
    {
        if (_dead[row]) return;
        _dead[row] = true;
        DeadCount++;
    }

    /// <summary>Freezes the rows into immutable indexes; the rows stay readable and killable.</summary>
    public void Seal(CollectionSchema schema, ISegmentIndexBuilder builder)
    {
        if (schema.Dense is { } denseField && _count > 0)
        {
            var values = new float[(long)_count * denseField.Dimension];
            for (int r = 0; r < _count; r++) _dense[r]!.CopyTo(values, (long)r * denseField.Dimension);
            _denseIndex = builder.BuildDense(DenseVectors.FromFloat32(values, _count, denseField.Dimension), denseField.Metric);
        }
        if (schema.Sparse is { } sparseField && _count > 0)
        {
            var offsets = new long[_count + 1];
            for (int r = 0; r < _count; r++) offsets[r + 1] = offsets[r] + _sparse[r]!.Count;
            var indices = new int[offsets[^1]];
            var weights = new float[offsets[^1]];
            for (int r = 0; r < _count; r++)
            {
                _sparse[r]!.Indices.CopyTo(indices, offsets[r]);
                _sparse[r]!.Values.CopyTo(weights, offsets[r]);
            }
            _sparseIndex = builder.BuildSparse(new SparseMatrix(_count, sparseField.VocabularySize, offsets, indices, weights));
        }
        IsSealed = true;
    }

    /// <summary>
    /// Best live rows for a dense query as (row, goodness) where goodness is higher-is-better (negated squared L2
    /// distance for L2; the score itself for ip/cosine). Returns how many were written (at most k).
    /// </summary>
    public int SearchDense(ReadOnlySpan<float> query, float queryInverseNorm, Metric metric, int k, Span<int> rows, Span<float> goodness)
    {
        if (LiveCount == 0) return 0;
        if (_denseIndex is not null)
        {
            int wanted = Math.Min(_count, k + DeadCount);
            var ids = ArrayPool<int>.Shared.Rent(wanted);
            var scores = ArrayPool<float>.Shared.Rent(wanted);
            try
            {
                int found = _denseIndex.Search(query, wanted, ids, scores);
                bool negate = !metric.HigherIsBetter();
                int w = 0;
                for (int i = 0; i < found && w < k; i++)
                {
                    if (_dead[ids[i]]) continue;
                    rows[w] = ids[i];
                    goodness[w++] = negate ? -scores[i] : scores[i];
                }
                return w;
            }
            finally
            {
                ArrayPool<int>.Shared.Return(ids);
                ArrayPool<float>.Shared.Return(scores);
            }
        }
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
        if (_sparseIndex is not null)
        {
            int wanted = Math.Min(_count, k + DeadCount);
            var ids = ArrayPool<int>.Shared.Rent(wanted);
            var scores = ArrayPool<float>.Shared.Rent(wanted);
            try
            {
                int found = _sparseIndex.Search(query, wanted, ids, scores);
                int w = 0;
                for (int i = 0; i < found && w < k; i++)
                {
                    if (_dead[ids[i]]) continue;
                    rows[w] = ids[i];
                    goodness[w++] = scores[i];
                }
                return w;
            }
            finally
            {
                ArrayPool<int>.Shared.Return(ids);
                ArrayPool<float>.Shared.Return(scores);
            }
        }
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
        Array.Resize(ref _dense, capacity);
        Array.Resize(ref _sparse, capacity);
        Array.Resize(ref _inverseNorms, capacity);
        Array.Resize(ref _textTokens, capacity);
        Array.Resize(ref _dead, capacity);
    }
}
