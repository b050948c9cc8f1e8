using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Clustering;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Benchmarks.Spann;

/// <summary>IVF-Flat's one knob: lists probed per query.</summary>
public sealed record IvfParameters(int Probes) : SearchParameters
{
    public override IReadOnlyList<ReportField> Describe() => [new("nprobe", Probes)];
}

/// <summary>
/// The plain IVF-Flat baseline of the SPANN benchmark (FAISS's IndexIVFFlat): k-means (no balance penalty) on a
/// sample, every vector in exactly one list, lists in memory in the base element type, scanned with the same
/// row kernel SPANN uses. What it lacks is exactly what SPANN adds: balanced lists, replicas and pruning.
/// </summary>
public sealed class IvfFlatIndex : ISearchIndex
{
    public static readonly int[] SweepProbes = [1, 2, 4, 8, 16, 32, 48, 64, 96, 128];

    private readonly float[] _centroids;
    private readonly DenseVectors _lists;
    private readonly int[] _ids;
    private readonly int[] _listStart;
    private readonly float[] _inverseNorms;
    private readonly int _maxList;
    private readonly ThreadLocal<Scratch> _scratch;

    private IvfFlatIndex(Metric metric, float[] centroids, int lists, DenseVectors ordered, int[] ids, int[] listStart, float[] inverseNorms)
    {
        Metric = metric;
        _centroids = centroids;
        ListCount = lists;
        _lists = ordered;
        _ids = ids;
        _listStart = listStart;
        _inverseNorms = inverseNorms;
        for (int l = 0; l < lists; l++) _maxList = Math.Max(_maxList, listStart[l + 1] - listStart[l]);
        _scratch = new ThreadLocal<Scratch>(() => new Scratch(Dimension, lists, _maxList));
    }

    public int ListCount { get; }
    public string Kind => "ivf-flat";
    public Metric Metric { get; }
    public int Count => _lists.Count;
    public int Dimension => _lists.Dimension;
    public bool IsSparse => false;
    public long? BytesOnDisk => null;
    public bool ScoresAreExact => true;
    public long ResidentBytes => (long)_lists.RawData.Length + _ids.Length * 4L + _centroids.Length * 4L + _inverseNorms.Length * 4L;
    public SearchParameters DefaultParameters => new IvfParameters(16);
    public IReadOnlyList<SearchParameters> SweepParameters
    {
        get
        {
            var list = new List<SearchParameters>();
            foreach (int p in SweepProbes) if (p <= ListCount) list.Add(new IvfParameters(p));
            return list;
        }
    }

    /// <summary>Trains <paramref name="lists"/> centroids on up to <paramref name="trainRows"/> sampled rows, then assigns every row.</summary>
    public static IvfFlatIndex Build(DenseVectors vectors, Metric metric, int lists, int trainRows, int threads, int seed = 1)
    {
        int n = vectors.Count, d = vectors.Dimension;
        if (lists < 1 || lists > n) Guard.ThrowInvalid($"IVF list count must be in 1..{n}, got {lists}");
        var all = new float[(long)n * d];
        var row = new float[d];
        for (int i = 0; i < n; i++)
        {
            vectors.CopyRowTo(i, row);
            SpannPrepare(row, all.AsSpan(i * d, d), metric);
        }
        int train = Math.Min(n, Math.Max(lists, trainRows));
        var rng = new Random(seed);
        var pick = new int[n];
        for (int i = 0; i < n; i++) pick[i] = i;
        for (int i = 0; i < train; i++) { int j = i + rng.Next(n - i); (pick[i], pick[j]) = (pick[j], pick[i]); }
        var sample = new float[(long)train * d];
        for (int i = 0; i < train; i++) all.AsSpan(pick[i] * d, d).CopyTo(sample.AsSpan(i * d, d));
        var clusters = BalancedKMeans.Cluster(sample, train, d, lists, new BalancedKMeansOptions { BalancePenalty = 0, Candidates = 1, Iterations = 10, Seed = seed }, threads);
        var nearest = NearestCentroids.Find(all, n, clusters.Centroids, lists, d, 1, threads);

        var start = new int[lists + 1];
        for (int i = 0; i < n; i++) start[nearest.Ids[i] + 1]++;
        for (int l = 0; l < lists; l++) start[l + 1] += start[l];
        var fill = (int[])start.Clone();
        var ids = new int[n];
        var ordered = new byte[vectors.RawData.Length];
        var norms = new float[n];
        for (int i = 0; i < n; i++)
        {
            int at = fill[nearest.Ids[i]]++;
            ids[at] = i;
            vectors.RawRow(i).CopyTo(ordered.AsSpan(at * vectors.RowBytes, vectors.RowBytes));
            vectors.CopyRowTo(i, row);
            norms[at] = DenseKernels.InverseNorm(DenseKernels.SquaredNorm(row));
        }
        return new IvfFlatIndex(metric, clusters.Centroids, lists, new DenseVectors(vectors.ElementType, n, d, ordered), ids, start, norms);
    }

    private static void SpannPrepare(ReadOnlySpan<float> row, Span<float> destination, Metric metric)
    {
        if (metric == Metric.Cosine) System.Numerics.Tensors.TensorPrimitives.Multiply(row, DenseKernels.InverseNorm(DenseKernels.SquaredNorm(row)), destination);
        else row.CopyTo(destination);
    }

    public void SearchOne(QuerySet queries, int query, int k, SearchParameters parameters, Span<int> ids, Span<float> scores) =>
        Search(queries.Dense!.Float32Row(query), k, ((IvfParameters)parameters).Probes, ids, scores);

    public SearchResults SearchBatch(QuerySet queries, int k, SearchParameters parameters, int threads)
    {
        var results = new SearchResults(queries.Count, k);
        int probes = ((IvfParameters)parameters).Probes;
        Parallel.For(0, queries.Count, new ParallelOptions { MaxDegreeOfParallelism = threads == 0 ? Environment.ProcessorCount : threads },
            q => Search(queries.Dense!.Float32Row(q), k, probes, results.IdsOf(q), results.ScoresOf(q)));
        return results;
    }

    public void Search(ReadOnlySpan<float> query, int k, int probes, Span<int> ids, Span<float> scores)
    {
        Guard.ValidK(k);
        var s = _scratch.Value!;
        int d = Dimension;
        query.CopyTo(s.Query);
        if (Metric == Metric.Cosine) SpannPrepare(s.Query, s.Query, Metric);
        bool l2 = Metric == Metric.L2;
        // Coarse stage: every centroid (float32), best probes kept.
        ref float q = ref MemoryMarshal.GetArrayDataReference(s.Query);
        if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Float32Decoder, float>(ref q, ref MemoryMarshal.GetArrayDataReference(_centroids), ListCount, d, ref MemoryMarshal.GetArrayDataReference(s.CentroidScores));
        else RowKernel.ScoreRows<DotProductAccumulator, Float32Decoder, float>(ref q, ref MemoryMarshal.GetArrayDataReference(_centroids), ListCount, d, ref MemoryMarshal.GetArrayDataReference(s.CentroidScores));
        int p = Math.Min(probes, ListCount);
        var coarse = s.Coarse(p);
        for (int l = 0; l < ListCount; l++) coarse.Push(l, l2 ? -s.CentroidScores[l] : s.CentroidScores[l]);
        int chosen = coarse.DrainSorted(s.Lists, s.ListGoodness);

        var heap = s.Heap(k);
        for (int c = 0; c < chosen; c++)
        {
            int list = s.Lists[c];
            int first = _listStart[list], count = _listStart[list + 1] - first;
            if (count == 0) continue;
            ScoreList(first, count, ref q, s.RowScores);
            for (int r = 0; r < count; r++)
            {
                float g = s.RowScores[r];
                g = l2 ? -g : Metric == Metric.Cosine ? g * _inverseNorms[first + r] : g;
                heap.Push(_ids[first + r], g);
            }
        }
        int found = heap.DrainSorted(ids, scores);
        for (int i = 0; i < found; i++) if (l2) scores[i] = -scores[i];
        ids[found..k].Fill(-1);
        scores[found..k].Fill(float.NaN);
    }

    private void ScoreList(int first, int count, ref float q, float[] output)
    {
        int d = Dimension;
        ref byte raw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_lists.RawArray), (nint)first * _lists.RowBytes);
        ref float o = ref MemoryMarshal.GetArrayDataReference(output);
        bool l2 = Metric == Metric.L2;
        switch (_lists.ElementType)
        {
            case ElementType.Float32:
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Float32Decoder, float>(ref q, ref Unsafe.As<byte, float>(ref raw), count, d, ref o);
                else RowKernel.ScoreRows<DotProductAccumulator, Float32Decoder, float>(ref q, ref Unsafe.As<byte, float>(ref raw), count, d, ref o);
                break;
            case ElementType.Float16:
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Float16Decoder, Half>(ref q, ref Unsafe.As<byte, Half>(ref raw), count, d, ref o);
                else RowKernel.ScoreRows<DotProductAccumulator, Float16Decoder, Half>(ref q, ref Unsafe.As<byte, Half>(ref raw), count, d, ref o);
                break;
            case ElementType.UInt8:
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, UInt8Decoder, byte>(ref q, ref raw, count, d, ref o);
                else RowKernel.ScoreRows<DotProductAccumulator, UInt8Decoder, byte>(ref q, ref raw, count, d, ref o);
                break;
            default:
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Int8Decoder, sbyte>(ref q, ref Unsafe.As<byte, sbyte>(ref raw), count, d, ref o);
                else RowKernel.ScoreRows<DotProductAccumulator, Int8Decoder, sbyte>(ref q, ref Unsafe.As<byte, sbyte>(ref raw), count, d, ref o);
                break;
        }
    }

    public void Dispose() => _scratch.Dispose();

    private sealed class Scratch(int dimension, int lists, int maxList)
    {
        private TopKHeap? _heap, _coarse;
        public readonly float[] Query = new float[dimension];
        public readonly float[] CentroidScores = new float[lists];
        public readonly float[] RowScores = new float[Math.Max(4, maxList)];
        public readonly int[] Lists = new int[lists];
        public readonly float[] ListGoodness = new float[lists];

        public TopKHeap Heap(int k) { if (_heap?.Capacity != k) _heap = new TopKHeap(k); _heap.Clear(); return _heap; }
        public TopKHeap Coarse(int p) { if (_coarse?.Capacity != p) _coarse = new TopKHeap(p); _coarse.Clear(); return _coarse; }
    }
}
