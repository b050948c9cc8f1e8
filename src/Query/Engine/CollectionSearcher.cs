using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Query.Engine;

/// <summary>
/// Search over a collection's segments: each segment answers for its own rows, the candidates are merged best first
/// and, for hybrid search, the dense and sparse lists are fused.
/// </summary>
internal sealed class CollectionSearcher(SegmentSet set, CollectionSchema schema)
{
    /// <summary>
    /// Searches every segment and returns (key, score) best first. <paramref name="dense"/> / <paramref name="sparse"/>
    /// are the (already encoded and validated) query vectors for the mode being run.
    /// </summary>
    public List<(RecordKey Key, float Score)> Search(float[]? dense, SparseTerms? sparse, SearchMode mode, SearchRequest request)
    {
        set.Gate.EnterReadLock();
        try
        {
            if (mode == SearchMode.Dense)
            {
                var list = DenseCandidates(dense!, request.K);
                bool negate = !schema.Dense!.Metric.HigherIsBetter();
                return ToHits(list, negate);
            }
            if (mode == SearchMode.Sparse) return ToHits(SparseCandidates(sparse!, request.K), negate: false);

            int candidates = request.Candidates > 0 ? request.Candidates : Math.Max(request.K, SearchRequest.DefaultHybridCandidates);
            var denseList = DenseCandidates(dense!, candidates);
            var sparseList = SparseCandidates(sparse!, candidates);
            var fused = HybridFusion.Fuse(
                System.Runtime.InteropServices.CollectionsMarshal.AsSpan(denseList),
                System.Runtime.InteropServices.CollectionsMarshal.AsSpan(sparseList),
                request.Fusion, request.DenseWeight, request.SparseWeight, request.RrfConstant, request.K);
            return ToHits(fused, negate: false);
        }
        finally { set.Gate.ExitReadLock(); }
    }

    private List<HybridFusion.Candidate> DenseCandidates(float[] query, int k)
    {
        var metric = schema.Dense!.Metric;
        float queryInverseNorm = metric == Metric.Cosine ? DenseKernels.InverseNorm(DenseKernels.Dot(query, query)) : 1f;
        Span<int> rows = k <= 256 ? stackalloc int[k] : new int[k];
        Span<float> goodness = k <= 256 ? stackalloc float[k] : new float[k];
        var segments = set.Segments;
        var all = new List<HybridFusion.Candidate>(k * segments.Count);
        for (int s = 0; s < segments.Count; s++)
        {
            int n = segments[s].SearchDense(query, queryInverseNorm, metric, k, rows, goodness);
            for (int i = 0; i < n; i++) all.Add(new HybridFusion.Candidate(SegmentSet.Location(s, rows[i]), goodness[i]));
        }
        return Best(all, k);
    }

    private List<HybridFusion.Candidate> SparseCandidates(SparseTerms query, int k)
    {
        Span<int> rows = k <= 256 ? stackalloc int[k] : new int[k];
        Span<float> goodness = k <= 256 ? stackalloc float[k] : new float[k];
        var segments = set.Segments;
        var all = new List<HybridFusion.Candidate>(k * segments.Count);
        for (int s = 0; s < segments.Count; s++)
        {
            int n = segments[s].SearchSparse(query, k, rows, goodness);
            for (int i = 0; i < n; i++) all.Add(new HybridFusion.Candidate(SegmentSet.Location(s, rows[i]), goodness[i]));
        }
        return Best(all, k);
    }

    private static List<HybridFusion.Candidate> Best(List<HybridFusion.Candidate> all, int k)
    {
        // Equal goodness: lower location (older segment, lower row) first, like the exact indexes' lower-id rule.
        all.Sort(static (a, b) => a.Goodness != b.Goodness ? b.Goodness.CompareTo(a.Goodness) : a.Location.CompareTo(b.Location));
        if (all.Count > k) all.RemoveRange(k, all.Count - k);
        return all;
    }

    private List<(RecordKey, float)> ToHits(List<HybridFusion.Candidate> list, bool negate)
    {
        var hits = new List<(RecordKey, float)>(list.Count);
        foreach (var c in list) hits.Add((set.KeyAt(c.Location), negate ? -c.Goodness : c.Goodness));
        return hits;
    }
}
