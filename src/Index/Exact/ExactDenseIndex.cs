using System.Runtime.InteropServices;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Exact;

/// <summary>
/// Brute-force (exact) top-k over dense vectors, like FAISS IndexFlat: every query is scored against every base
/// row in the rows' stored element type (float16 / 8-bit rows are decoded on the fly, never copied to float32).
/// Scores are in the metric's natural units (squared L2 ascending; inner product / cosine descending) and equal
/// scores are ordered by lower id. Cosine uses inverse row norms computed once here; a zero vector's cosine with
/// anything is 0. The index is immutable, so concurrent searches are safe.
/// <para><see cref="Search"/> is the batched, multi-threaded path (a tile of <see cref="QueryTileSize"/> queries
/// against base blocks of <see cref="RowBlockSize"/> rows); <see cref="SearchOne"/> scores one query on the calling
/// thread and allocates nothing once warm. When the dimension is not a multiple of 16 the two paths sum the last
/// coordinates in a different order, so their scores may differ in the last bit.</para>
/// </summary>
public sealed class ExactDenseIndex
{
    /// <summary>Queries scored together against each decoded base block by <see cref="Search"/>.</summary>
    public const int QueryTileSize = 64;

    /// <summary>Base rows decoded into float32 scratch at a time by <see cref="Search"/>.</summary>
    public const int RowBlockSize = 64;

    /// <summary>Rows <see cref="SearchOne"/> scores per row-kernel call before its heap pass (1 KiB of scores on the stack).</summary>
    private const int SingleQueryChunkRows = 256;

    /// <summary>A worker of a split base range gets at least this many rows (below that threads cost more than they save).</summary>
    private const int MinRowsPerRange = 4096;

    private readonly DenseVectors _vectors;
    private readonly float[] _rowInverseNorms;

    [ThreadStatic] private static TopKHeap? t_heap;

    public ExactDenseIndex(DenseVectors vectors, Metric metric)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        if (!Enum.IsDefined(metric)) Guard.ThrowInvalid($"unknown metric value {(int)metric}");
        _vectors = vectors;
        Metric = metric;
        _rowInverseNorms = metric == Metric.Cosine ? new float[vectors.Count] : [];
        Prepare();
    }

    public int Count => _vectors.Count;
    public int Dimension => _vectors.Dimension;
    public Metric Metric { get; }
    public ElementType ElementType => _vectors.ElementType;
    public DenseVectors Vectors => _vectors;

    /// <summary>Bytes of stored base vectors one full scan reads (Count x Dimension x element size).</summary>
    public long BaseBytes => (long)_vectors.Count * _vectors.RowBytes;

    /// <summary>
    /// Exact top-k for every query row. <paramref name="threads"/> = 0 uses all cores; work is split across query
    /// tiles, and across base ranges (with a per-query merge) when there are fewer tiles than threads.
    /// </summary>
    public SearchResults Search(DenseVectors queries, int k, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(queries);
        Guard.ValidK(k);
        Guard.SameDimension(Dimension, queries.Dimension, "the query set");
        if (threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {threads}");
        int workers = threads == 0 ? Environment.ProcessorCount : threads;

        int queryCount = queries.Count;
        int stride = TileKernel.PaddedStride(Dimension);
        var decoded = new float[(long)TileKernel.PaddedCount(queryCount) * stride];
        var queryInverseNorms = new float[queryCount];
        DecodeAndValidateQueries(queries, decoded, stride, queryInverseNorms);

        var results = new SearchResults(queryCount, k);
        if (queryCount == 0 || Count == 0) return results;

        int tiles = (queryCount + QueryTileSize - 1) / QueryTileSize;
        int ranges = tiles >= workers ? 1 : Math.Clamp((workers + tiles - 1) / tiles, 1, Math.Max(1, Count / MinRowsPerRange));
        var job = new BlockedJob(this, decoded, stride, queryCount, queryInverseNorms, k, tiles, ranges, results);
        int items = tiles * ranges;
        if (workers == 1 || items == 1)
        {
            var scratch = job.NewScratch();
            for (int item = 0; item < items; item++) job.Run(item, scratch);
        }
        else
        {
            Parallel.For(0, items, new ParallelOptions { MaxDegreeOfParallelism = workers },
                job.NewScratch, (item, _, scratch) => { job.Run(item, scratch); return scratch; }, _ => { });
        }
        if (ranges > 1) job.Merge();
        return results;
    }

    /// <summary>
    /// Exact top-k of one query on the calling thread, written best first into <paramref name="ids"/> and
    /// <paramref name="scores"/> (each at least k long; entries past the number found get id -1 and score NaN).
    /// Returns how many results were found (min(k, Count)). No allocation after the first call with a given k.
    /// </summary>
    public int SearchOne(ReadOnlySpan<float> query, int k, Span<int> ids, Span<float> scores)
    {
        Guard.ValidK(k);
        Guard.SameDimension(Dimension, query.Length, "the query");
        if (ids.Length < k || scores.Length < k)
            Guard.ThrowInvalid($"output spans must hold k = {k} entries, got {ids.Length} ids and {scores.Length} scores");
        if (!RowKernel.IsFinite<Float32Decoder, float>(ref MemoryMarshal.GetReference(query), query.Length))
            Guard.ThrowInvalid("query row 0 contains NaN or infinity");

        var heap = t_heap;
        if (heap is null || heap.Capacity != k) t_heap = heap = new TopKHeap(k);
        heap.Clear();
        Span<float> scratch = stackalloc float[SingleQueryChunkRows];
        DispatchScanOne(query, heap, scratch);

        float queryInverseNorm = Metric == Metric.Cosine ? DenseKernels.InverseNorm(DenseKernels.SquaredNorm(query)) : 1f;
        int found = heap.DrainSorted(ids, scores);
        ToNatural(scores[..found], queryInverseNorm);
        ids[found..k].Fill(SearchResults.MissingId);
        scores[found..k].Fill(float.NaN);
        return found;
    }

    private void Prepare()
    {
        switch (_vectors.ElementType)
        {
            case ElementType.Float32: Prepare<Float32Decoder, float>(checkFinite: true); break;
            case ElementType.Float16: Prepare<Float16Decoder, Half>(checkFinite: true); break;
            case ElementType.UInt8: Prepare<UInt8Decoder, byte>(checkFinite: false); break;
            case ElementType.Int8: Prepare<Int8Decoder, sbyte>(checkFinite: false); break;
            default: Guard.ThrowInvalid($"unsupported element type {_vectors.ElementType}"); break;
        }
    }

    /// <summary>One pass over the base: rejects non-finite rows (they would corrupt every heap) and takes cosine norms.</summary>
    private void Prepare<TDecoder, TElement>(bool checkFinite)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        ref TElement rows = ref MemoryMarshal.GetReference(MemoryMarshal.Cast<byte, TElement>(_vectors.RawData));
        int d = Dimension;
        for (int r = 0; r < Count; r++)
        {
            ref TElement row = ref System.Runtime.CompilerServices.Unsafe.Add(ref rows, (nint)r * d);
            if (checkFinite && !RowKernel.IsFinite<TDecoder, TElement>(ref row, d))
                Guard.ThrowInvalid($"base vector row {r} contains NaN or infinity");
            if (Metric == Metric.Cosine)
                _rowInverseNorms[r] = DenseKernels.InverseNorm(RowKernel.SquaredNorm<TDecoder, TElement>(ref row, d));
        }
    }

    private void DecodeAndValidateQueries(DenseVectors queries, float[] decoded, int stride, float[] queryInverseNorms)
    {
        switch (queries.ElementType)
        {
            case ElementType.Float32: DecodeQueries<Float32Decoder, float>(queries, decoded, stride, queryInverseNorms); break;
            case ElementType.Float16: DecodeQueries<Float16Decoder, Half>(queries, decoded, stride, queryInverseNorms); break;
            case ElementType.UInt8: DecodeQueries<UInt8Decoder, byte>(queries, decoded, stride, queryInverseNorms); break;
            case ElementType.Int8: DecodeQueries<Int8Decoder, sbyte>(queries, decoded, stride, queryInverseNorms); break;
            default: Guard.ThrowInvalid($"unsupported query element type {queries.ElementType}"); break;
        }
    }

    private void DecodeQueries<TDecoder, TElement>(DenseVectors queries, float[] decoded, int stride, float[] queryInverseNorms)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        var source = MemoryMarshal.Cast<byte, TElement>(queries.RawData);
        int d = Dimension;
        RowDecoder.DecodeRows<TDecoder, TElement>(ref MemoryMarshal.GetReference(source), queries.Count, d,
            ref MemoryMarshal.GetArrayDataReference(decoded), stride);
        for (int q = 0; q < queries.Count; q++)
        {
            var row = decoded.AsSpan((int)((long)q * stride), d);
            if (!RowKernel.IsFinite<Float32Decoder, float>(ref MemoryMarshal.GetReference(row), d))
                Guard.ThrowInvalid($"query row {q} contains NaN or infinity");
            queryInverseNorms[q] = Metric == Metric.Cosine ? DenseKernels.InverseNorm(DenseKernels.SquaredNorm(row)) : 1f;
        }
    }

    private void ToNatural(Span<float> goodness, float queryInverseNorm)
    {
        switch (Metric)
        {
            case Metric.L2: for (int i = 0; i < goodness.Length; i++) goodness[i] = L2Score.Natural(goodness[i], queryInverseNorm); break;
            case Metric.InnerProduct: break;
            case Metric.Cosine: for (int i = 0; i < goodness.Length; i++) goodness[i] = CosineScore.Natural(goodness[i], queryInverseNorm); break;
        }
    }

    private void DispatchScanOne(ReadOnlySpan<float> query, TopKHeap heap, Span<float> scratch)
    {
        switch (_vectors.ElementType)
        {
            case ElementType.Float32: ScanOne<Float32Decoder, float>(query, heap, scratch); break;
            case ElementType.Float16: ScanOne<FiniteFloat16Decoder, Half>(query, heap, scratch); break; // base checked finite in Prepare
            case ElementType.UInt8: ScanOne<UInt8Decoder, byte>(query, heap, scratch); break;
            case ElementType.Int8: ScanOne<Int8Decoder, sbyte>(query, heap, scratch); break;
        }
    }

    private void ScanOne<TDecoder, TElement>(ReadOnlySpan<float> query, TopKHeap heap, Span<float> scratch)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        var rows = MemoryMarshal.Cast<byte, TElement>(_vectors.RawData);
        switch (Metric)
        {
            case Metric.L2:
                ExactDenseScan<L2Score, SquaredL2Accumulator, TDecoder, TElement>.ScanOne(rows, Count, Dimension, _rowInverseNorms, query, heap, scratch);
                break;
            case Metric.InnerProduct:
                ExactDenseScan<InnerProductScore, DotProductAccumulator, TDecoder, TElement>.ScanOne(rows, Count, Dimension, _rowInverseNorms, query, heap, scratch);
                break;
            case Metric.Cosine:
                ExactDenseScan<CosineScore, DotProductAccumulator, TDecoder, TElement>.ScanOne(rows, Count, Dimension, _rowInverseNorms, query, heap, scratch);
                break;
        }
    }

    /// <summary>One batched search: work item = (query tile, base range); ranges > 1 leave partial top-k to merge.</summary>
    private sealed class BlockedJob
    {
        private readonly ExactDenseIndex _index;
        private readonly float[] _decoded;
        private readonly int _stride;
        private readonly int _queryCount;
        private readonly float[] _queryInverseNorms;
        private readonly int _k;
        private readonly int _tiles;
        private readonly int _ranges;
        private readonly SearchResults _results;
        private readonly int[][] _partialIds;
        private readonly float[][] _partialGoodness;
        private readonly int[][] _partialCounts;

        public BlockedJob(ExactDenseIndex index, float[] decoded, int stride, int queryCount, float[] queryInverseNorms,
            int k, int tiles, int ranges, SearchResults results)
        {
            _index = index;
            _decoded = decoded;
            _stride = stride;
            _queryCount = queryCount;
            _queryInverseNorms = queryInverseNorms;
            _k = k;
            _tiles = tiles;
            _ranges = ranges;
            _results = results;
            _partialIds = new int[ranges > 1 ? ranges : 0][];
            _partialGoodness = new float[_partialIds.Length][];
            _partialCounts = new int[_partialIds.Length][];
            for (int r = 0; r < _partialIds.Length; r++)
            {
                _partialIds[r] = new int[queryCount * k];
                _partialGoodness[r] = new float[queryCount * k];
                _partialCounts[r] = new int[queryCount];
            }
        }

        public BlockedScratch NewScratch() => new(QueryTileSize, RowBlockSize, _stride, _k);

        public void Run(int item, BlockedScratch scratch)
        {
            int tile = item / _ranges, range = item % _ranges;
            int tileStart = tile * QueryTileSize;
            int tileCount = Math.Min(QueryTileSize, _queryCount - tileStart);
            long count = _index.Count;
            int rowStart = (int)(count * range / _ranges), rowEnd = (int)(count * (range + 1) / _ranges);
            var heaps = scratch.Heaps;
            for (int q = 0; q < tileCount; q++) heaps[q].Clear();
            _index.DispatchBlocked(_decoded, _stride, tileStart, tileCount, rowStart, rowEnd, scratch);
            for (int q = 0; q < tileCount; q++)
            {
                int query = tileStart + q;
                if (_ranges == 1)
                {
                    var scores = _results.ScoresOf(query);
                    int found = heaps[q].DrainSorted(_results.IdsOf(query), scores);
                    _index.ToNatural(scores[..found], _queryInverseNorms[query]);
                }
                else
                {
                    _partialCounts[range][query] = heaps[q].DrainSorted(
                        _partialIds[range].AsSpan(query * _k, _k), _partialGoodness[range].AsSpan(query * _k, _k));
                }
            }
        }

        /// <summary>Folds the per-range top-k lists of every query into one (the heap keeps the lower id on ties).</summary>
        public void Merge()
        {
            var heap = new TopKHeap(_k);
            for (int query = 0; query < _queryCount; query++)
            {
                heap.Clear();
                for (int range = 0; range < _ranges; range++)
                {
                    int n = _partialCounts[range][query];
                    var ids = _partialIds[range].AsSpan(query * _k, n);
                    var goodness = _partialGoodness[range].AsSpan(query * _k, n);
                    for (int i = 0; i < n; i++) heap.Push(ids[i], goodness[i]);
                }
                var scores = _results.ScoresOf(query);
                int found = heap.DrainSorted(_results.IdsOf(query), scores);
                _index.ToNatural(scores[..found], _queryInverseNorms[query]);
            }
        }
    }

    private void DispatchBlocked(float[] decoded, int stride, int tileStart, int tileCount, int rowStart, int rowEnd, BlockedScratch scratch)
    {
        switch (_vectors.ElementType)
        {
            case ElementType.Float32: Blocked<Float32Decoder, float>(decoded, stride, tileStart, tileCount, rowStart, rowEnd, scratch); break;
            case ElementType.Float16: Blocked<FiniteFloat16Decoder, Half>(decoded, stride, tileStart, tileCount, rowStart, rowEnd, scratch); break;
            case ElementType.UInt8: Blocked<UInt8Decoder, byte>(decoded, stride, tileStart, tileCount, rowStart, rowEnd, scratch); break;
            case ElementType.Int8: Blocked<Int8Decoder, sbyte>(decoded, stride, tileStart, tileCount, rowStart, rowEnd, scratch); break;
        }
    }

    private void Blocked<TDecoder, TElement>(float[] decoded, int stride, int tileStart, int tileCount, int rowStart, int rowEnd, BlockedScratch scratch)
        where TDecoder : struct, IElementDecoder<TElement>
        where TElement : unmanaged
    {
        var rows = MemoryMarshal.Cast<byte, TElement>(_vectors.RawData);
        switch (Metric)
        {
            case Metric.L2:
                ExactDenseScan<L2Score, SquaredL2Accumulator, TDecoder, TElement>.ScanBlocked(rows, Dimension, _rowInverseNorms,
                    decoded, stride, tileStart, tileCount, rowStart, rowEnd, scratch, scratch.Heaps);
                break;
            case Metric.InnerProduct:
                ExactDenseScan<InnerProductScore, DotProductAccumulator, TDecoder, TElement>.ScanBlocked(rows, Dimension, _rowInverseNorms,
                    decoded, stride, tileStart, tileCount, rowStart, rowEnd, scratch, scratch.Heaps);
                break;
            case Metric.Cosine:
                ExactDenseScan<CosineScore, DotProductAccumulator, TDecoder, TElement>.ScanBlocked(rows, Dimension, _rowInverseNorms,
                    decoded, stride, tileStart, tileCount, rowStart, rowEnd, scratch, scratch.Heaps);
                break;
        }
    }
}
