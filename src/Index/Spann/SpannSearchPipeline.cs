using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Errors;
using Retrieval.Index.Graphs;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>
/// The search pipeline of one open SPANN index, split like FAISS's IVF: the query is normalised
/// (<see cref="PrepareQuery"/>), the coarse stage walks the navigation graph over the heads and keeps those eps2
/// pruning lets through (<see cref="SelectHeads"/>), and the list stage reads the surviving postings as one batch
/// of concurrent reads, scans each as it lands, de-duplicates replicas and re-ranks quantized candidates exactly
/// (<see cref="ScanPostings"/>). Stateless between calls: per-query state lives in the <see cref="SpannSearcher"/>.
/// </summary>
internal sealed class SpannSearchPipeline
{
    private readonly SpannDataFiles _data;
    private readonly int[] _entryHeads;
    private readonly int _fullRowBytes;

    public SpannSearchPipeline(SpannIndexFiles files, SpannDataFiles data)
    {
        Manifest = files.Manifest;
        Heads = files.Heads;
        Graph = files.Graph;
        Postings = files.Postings;
        Layout = new PostingLayout(Manifest.Storage, Manifest.Metric, Manifest.Dimension);
        _data = data;
        _fullRowBytes = Manifest.Dimension * Manifest.SourceElement.SizeInBytes();
        // Seeds of every graph search: about sqrt(H)/2 heads spread over the head list (which is in base row order).
        // Starting the beam near the query saves the evaluations the medoid alone spends walking in, and this count
        // beat both sqrt(H) and 2 sqrt(H) seeds (docs/BENCHMARKS.md, SPANN).
        _entryHeads = GraphNearest.StrideEntries(Heads.Count);
    }

    public SpannManifest Manifest { get; }
    public HeadSet Heads { get; }
    public NavigationGraph Graph { get; }
    public PostingDirectory Postings { get; }
    public PostingLayout Layout { get; }
    public Metric Metric => Manifest.Metric;
    public int Dimension => Manifest.Dimension;
    public int Count => Manifest.VectorCount;

    public void PrepareQuery(ReadOnlySpan<float> query, SpannSearcher s)
    {
        Guard.SameDimension(Dimension, query.Length, "the query");
        if (!RowKernel.IsFinite<Float32Decoder, float>(ref MemoryMarshal.GetReference(query), query.Length))
            Guard.ThrowInvalid("the query contains NaN or infinity");
        var q = s.Query;
        query.CopyTo(q);
        float norm = DenseKernels.SquaredNorm(q);
        if (Metric == Metric.Cosine)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(q, DenseKernels.InverseNorm(norm), q);
            norm = norm > 0 ? 1f : 0f;
        }
        s.QuerySquaredNorm = norm;
    }

    /// <summary>The heads of the prepared query, best first in the searcher's head list, after eps2 pruning; returns their number.</summary>
    public int SelectHeads(SpannSearchParameters p, SpannSearcher s)
    {
        int want = Math.Min(p.Heads, Heads.Count);
        s.EnsureHeads(Math.Max(want, 1));
        int found;
        bool l2 = Metric == Metric.L2, cosine = Metric == Metric.Cosine;
        if (Heads.Element == ElementType.Float16)
        {
            found = l2
                ? GraphSearch(new HeadScorer<SquaredL2Accumulator, Float16Decoder, Half> { Rows = Heads.Float16!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Negate = true }, p, want, s)
                : GraphSearch(new HeadScorer<DotProductAccumulator, Float16Decoder, Half> { Rows = Heads.Float16!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Scale = cosine }, p, want, s);
        }
        else if (Heads.Element == ElementType.UInt8)
        {
            found = l2
                ? GraphSearch(new HeadScorer<SquaredL2Accumulator, UInt8Decoder, byte> { Rows = Heads.UInt8!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Negate = true }, p, want, s)
                : GraphSearch(new HeadScorer<DotProductAccumulator, UInt8Decoder, byte> { Rows = Heads.UInt8!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Scale = cosine }, p, want, s);
        }
        else
        {
            found = l2
                ? GraphSearch(new HeadScorer<SquaredL2Accumulator, Float32Decoder, float> { Rows = Heads.Float32!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Negate = true }, p, want, s)
                : GraphSearch(new HeadScorer<DotProductAccumulator, Float32Decoder, float> { Rows = Heads.Float32!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Scale = cosine }, p, want, s);
        }
        return Prune(s.HeadGoodness.AsSpan(0, found), p.PruneEpsilon);
    }

    private int GraphSearch<TScorer>(TScorer scorer, SpannSearchParameters p, int want, SpannSearcher s) where TScorer : struct, INodeScorer =>
        Graph.Search(ref scorer, p.BeamFor(want), want, s.Graph, s.HeadIds, s.HeadGoodness, _entryHeads);

    /// <summary>eps2: how many of the (best-first) heads survive query-aware pruning, judged in the metric's own distance.</summary>
    private int Prune(ReadOnlySpan<float> goodness, double epsilon)
    {
        if (epsilon < 0 || goodness.Length <= 1) return goodness.Length;
        float best = goodness[0];
        for (int j = 1; j < goodness.Length; j++)
        {
            float g = goodness[j];
            bool keep = Metric switch
            {
                // goodness = -squared distance: compare Euclidean distances.
                Metric.L2 => MathF.Sqrt(-g) <= (1 + epsilon) * MathF.Sqrt(-best),
                Metric.Cosine => 1 - g <= (1 + epsilon) * (1 - best),
                _ => best - g <= epsilon * MathF.Abs(best),
            };
            if (!keep) return j;
        }
        return goodness.Length;
    }

    /// <summary>Reads <paramref name="heads"/>' postings as one batch, scans them as they arrive, drops replicas, re-ranks when the storage is lossy.</summary>
    public int ScanPostings(ReadOnlySpan<int> heads, int k, SpannSearchParameters p, Span<int> ids, Span<float> scores, SpannSearcher s)
    {
        var store = _data.Store(p.Io);
        bool rerank = Manifest.Rerank;
        int capacity = rerank ? Math.Min(Count, k * p.RerankFactor) : k;
        var heap = s.Heap(capacity);
        int epoch = s.NextEpoch();
        store.Begin(heads, s);
        try
        {
            for (int i = 0; i < heads.Length; i++)
            {
                int posting = heads[i];
                int count = Postings.Counts[posting];
                if (count == 0) continue;
                Scan(store.Get(i, s), count, s, heap, epoch);
            }
        }
        finally
        {
            store.End(s);
        }
        if (rerank) heap = Rerank(heap, k, p, s);
        s.EnsureCandidates(k);
        int found = heap.DrainSorted(ids, scores);
        bool l2 = Metric == Metric.L2;
        for (int i = 0; i < found; i++) if (l2) scores[i] = -scores[i];
        ids[found..k].Fill(-1);
        scores[found..k].Fill(float.NaN);
        return found;
    }

    private void Scan(ReadOnlySpan<byte> posting, int count, SpannSearcher s, TopKHeap heap, int epoch)
    {
        int d = Dimension;
        var rowIds = MemoryMarshal.Cast<byte, int>(posting[..(count * 4)]);
        ref byte vectors = ref Unsafe.AsRef(in posting[Layout.VectorsOffset(count)]);
        ref float query = ref MemoryMarshal.GetArrayDataReference(s.Query);
        ref float scoreRef = ref MemoryMarshal.GetArrayDataReference(s.Scores);
        bool l2 = Metric == Metric.L2;
        switch (Layout.Storage)
        {
            case SpannStorage.Float32:
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Float32Decoder, float>(ref query, ref Unsafe.As<byte, float>(ref vectors), count, d, ref scoreRef);
                else RowKernel.ScoreRows<DotProductAccumulator, Float32Decoder, float>(ref query, ref Unsafe.As<byte, float>(ref vectors), count, d, ref scoreRef);
                break;
            case SpannStorage.Float16:
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Float16Decoder, Half>(ref query, ref Unsafe.As<byte, Half>(ref vectors), count, d, ref scoreRef);
                else RowKernel.ScoreRows<DotProductAccumulator, Float16Decoder, Half>(ref query, ref Unsafe.As<byte, Half>(ref vectors), count, d, ref scoreRef);
                break;
            default:
                RowKernel.ScoreRows<DotProductAccumulator, Int8Decoder, sbyte>(ref query, ref Unsafe.As<byte, sbyte>(ref vectors), count, d, ref scoreRef);
                break;
        }
        var sc = s.Scores.AsSpan(0, count);
        if (Layout.Storage == SpannStorage.Int8)
        {
            var factors = MemoryMarshal.Cast<byte, float>(posting.Slice(PostingLayout.FactorOffset(count), count * 4));
            if (l2)
            {
                var norms = MemoryMarshal.Cast<byte, float>(posting.Slice(PostingLayout.SquaredNormOffset(count), count * 4));
                float qn = s.QuerySquaredNorm;
                for (int r = 0; r < count; r++) sc[r] = -(qn - 2 * factors[r] * sc[r] + norms[r]);
            }
            else for (int r = 0; r < count; r++) sc[r] *= factors[r];
        }
        else if (l2)
        {
            for (int r = 0; r < count; r++) sc[r] = -sc[r];
        }
        else if (Metric == Metric.Cosine)
        {
            var factors = MemoryMarshal.Cast<byte, float>(posting.Slice(PostingLayout.FactorOffset(count), count * 4));
            for (int r = 0; r < count; r++) sc[r] *= factors[r];
        }

        var stamps = s.Stamps;
        for (int r = 0; r < count; r++)
        {
            float g = sc[r];
            if (!(g > heap.Threshold) && heap.IsFull) continue;
            int id = rowIds[r];
            if (stamps[id] == epoch) continue;
            stamps[id] = epoch;
            heap.Push(id, g);
        }
    }

    /// <summary>Re-scores the quantized candidates exactly from the full-precision rows (read as one batch) and keeps the best k.</summary>
    private unsafe TopKHeap Rerank(TopKHeap candidates, int k, SpannSearchParameters p, SpannSearcher s)
    {
        int n = candidates.Count;
        s.EnsureCandidates(Math.Max(n, k));
        candidates.DrainSorted(s.CandidateIds, s.CandidateGoodness);
        var final = s.Heap(k);
        if (n == 0) return final;
        int rowBytes = _fullRowBytes;
        long span = PostingLayout.AlignUp(rowBytes, PostingLayout.PageBytes) + PostingLayout.PageBytes;
        if (p.Io == PostingIoMode.Memory)
        {
            for (int i = 0; i < n; i++)
            {
                int id = s.CandidateIds[i];
                var row = new ReadOnlySpan<byte>(_data.FullMemory + _data.FullVectorsDataOffset + (long)id * rowBytes, rowBytes);
                final.Push(id, ExactGoodness(row, s));
            }
            return final;
        }
        var file = _data.FullReader(p.Io);
        var (buffer, batch) = s.Rerank(n, span * n, _data.ReadWorkers.Dispatch);
        batch.Begin(file);
        for (int i = 0; i < n; i++)
        {
            long at = _data.FullVectorsDataOffset + (long)s.CandidateIds[i] * rowBytes;
            long first = at / PostingLayout.PageBytes * PostingLayout.PageBytes;
            long last = PostingLayout.AlignUp(at + rowBytes, PostingLayout.PageBytes);
            batch.Add(buffer.Pointer + i * span, (int)(last - first), first);
        }
        batch.Issue();
        try
        {
            for (int i = 0; i < n; i++)
            {
                batch.WaitFor(i);
                long at = _data.FullVectorsDataOffset + (long)s.CandidateIds[i] * rowBytes;
                long within = at % PostingLayout.PageBytes;
                var row = new ReadOnlySpan<byte>(buffer.Pointer + i * span + within, rowBytes);
                final.Push(s.CandidateIds[i], ExactGoodness(row, s));
            }
        }
        finally
        {
            batch.Drain();
        }
        return final;
    }

    private float ExactGoodness(ReadOnlySpan<byte> row, SpannSearcher s)
    {
        ReadOnlySpan<float> q = s.Query;
        return (Manifest.SourceElement, Metric) switch
        {
            (ElementType.Float32, Metric.L2) => -DenseKernels.SquaredL2(q, MemoryMarshal.Cast<byte, float>(row)),
            (ElementType.Float32, Metric.InnerProduct) => DenseKernels.Dot(q, MemoryMarshal.Cast<byte, float>(row)),
            (ElementType.Float32, _) => DenseKernels.Cosine(q, MemoryMarshal.Cast<byte, float>(row)),
            (ElementType.Float16, Metric.L2) => -DenseKernels.SquaredL2(q, MemoryMarshal.Cast<byte, Half>(row)),
            (ElementType.Float16, Metric.InnerProduct) => DenseKernels.Dot(q, MemoryMarshal.Cast<byte, Half>(row)),
            (ElementType.Float16, _) => DenseKernels.Cosine(q, MemoryMarshal.Cast<byte, Half>(row)),
            (ElementType.UInt8, Metric.L2) => -DenseKernels.SquaredL2(q, row),
            (ElementType.UInt8, Metric.InnerProduct) => DenseKernels.Dot(q, row),
            (ElementType.UInt8, _) => DenseKernels.Cosine(q, row),
            (_, Metric.L2) => -DenseKernels.SquaredL2(q, MemoryMarshal.Cast<byte, sbyte>(row)),
            (_, Metric.InnerProduct) => DenseKernels.Dot(q, MemoryMarshal.Cast<byte, sbyte>(row)),
            _ => DenseKernels.Cosine(q, MemoryMarshal.Cast<byte, sbyte>(row)),
        };
    }
}
