using Retrieval.Index.Errors;
using Retrieval.Index.Graphs;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>How assignment went: replica and posting-length distributions and what the page budget moved.</summary>
public sealed record PostingAssignmentStats(
    long[] ReplicaHistogram,
    double MeanReplicas,
    int MinPostingLength,
    double MeanPostingLength,
    int P50PostingLength,
    int P99PostingLength,
    int MaxPostingLength,
    int PostingCap,
    long ReplicasDroppedByCap,
    long VectorsMovedByCap,
    long VectorsInNoPosting);

/// <summary>
/// SPANN's posting assignment: each vector goes to up to R heads among its nearest candidates by the closure
/// rule (d(x, c_j) &lt;= (1 + eps1) d(x, c_1)) filtered by the RNG rule (skip c_j when an accepted c_i has
/// RngFactor * d(c_i, c_j) &lt; d(x, c_j)). Then the page budget: an overfull posting keeps its nearest
/// members; a vector evicted from its only posting moves to its next-best candidate head with room (then to
/// graph neighbours of its head, then to any head with room) — no vector is left in no posting.
/// </summary>
internal sealed class PostingAssigner
{
    private readonly int _replicas;
    private readonly int _candidates;
    private readonly float[] _heads;
    private readonly int _dimension;
    private readonly float _closureSquared;
    private readonly float _rngSquared;

    public PostingAssigner(long vectorCount, int headCount, float[] headVectors, int dimension, SpannBuildOptions options)
    {
        if (vectorCount > int.MaxValue / Math.Max(options.HeadCandidates, options.ReplicaCount))
            Guard.ThrowInvalid($"{vectorCount} vectors exceed what one SPANN index segment holds; split the input");
        VectorCount = (int)vectorCount;
        HeadCount = headCount;
        _replicas = options.ReplicaCount;
        _candidates = Math.Min(options.HeadCandidates, headCount);
        _heads = headVectors;
        _dimension = dimension;
        _closureSquared = (float)((1 + options.ClosureEpsilon) * (1 + options.ClosureEpsilon));
        _rngSquared = (float)(options.RngFactor * options.RngFactor);
        Heads = new int[(long)VectorCount * _replicas];
        Distances = new float[(long)VectorCount * _replicas];
        Counts = new byte[VectorCount];
        CandidateIds = new int[(long)VectorCount * _candidates];
        Array.Fill(CandidateIds, -1);
    }

    public int VectorCount { get; }
    public int HeadCount { get; }
    public int ReplicaCount => _replicas;
    public int CandidateCount => _candidates;
    /// <summary>Vector v's heads: Heads[v * R .. v * R + Counts[v]).</summary>
    public int[] Heads { get; }
    /// <summary>Squared L2 distance to each assigned head (NaN where a fallback placed the vector).</summary>
    public float[] Distances { get; }
    public byte[] Counts { get; }
    /// <summary>Nearest heads per vector, for overflow moves.</summary>
    public int[] CandidateIds { get; }

    /// <summary>Applies the closure and RNG rules to rows [first, first + n) given their nearest heads (squared L2, nearest first).</summary>
    public void AssignChunk(int first, SearchResults nearest, bool[] skipped)
    {
        int k = nearest.K;
        Parallel.For(0, nearest.QueryCount, q =>
        {
            int v = first + q;
            if (skipped[v]) return;
            var ids = nearest.Ids.AsSpan(q * k, k);
            var dists = nearest.Scores.AsSpan(q * k, k);
            ids[..Math.Min(k, _candidates)].CopyTo(CandidateIds.AsSpan(v * _candidates, _candidates));
            float limit = dists[0] * _closureSquared;
            int accepted = 0;
            int baseIndex = v * _replicas;
            for (int j = 0; j < k && accepted < _replicas; j++)
            {
                int c = ids[j];
                if (c < 0 || dists[j] > limit) break;
                bool dominated = false;
                for (int a = 0; a < accepted; a++)
                {
                    int i = Heads[baseIndex + a];
                    if (_rngSquared * HeadDistance(i, c) < dists[j]) { dominated = true; break; }
                }
                if (dominated) continue;
                Heads[baseIndex + accepted] = c;
                Distances[baseIndex + accepted] = dists[j];
                accepted++;
            }
            Counts[v] = (byte)accepted;
        });
    }

    /// <summary>Enforces the posting cap; returns the distributions. <paramref name="graph"/> guides fallback moves.</summary>
    public PostingAssignmentStats EnforceCap(int cap, NavigationGraph graph, ReadOnlySpan<bool> skipped)
    {
        long valid = 0;
        for (int v = 0; v < VectorCount; v++) if (skipped.IsEmpty || !skipped[v]) valid++;
        if ((long)cap * HeadCount < valid)
            Guard.ThrowInvalid($"{HeadCount} postings of at most {cap} vectors cannot hold {valid} vectors: raise --posting-pages or --head-ratio");

        var counts = PostingLengths();
        long dropped = 0;
        var orphans = new List<int>();
        // Members of overfull postings, gathered in one pass.
        var overfull = new List<(float Distance, int Vector)>?[HeadCount];
        for (int h = 0; h < HeadCount; h++) if (counts[h] > cap) overfull[h] = new List<(float, int)>(counts[h]);
        for (int v = 0; v < VectorCount; v++)
        {
            int b = v * _replicas;
            for (int r = 0; r < Counts[v]; r++) overfull[Heads[b + r]]?.Add((Distances[b + r], v));
        }
        for (int h = 0; h < HeadCount; h++)
        {
            var members = overfull[h];
            if (members is null) continue;
            members.Sort();
            for (int m = cap; m < members.Count; m++)
            {
                int v = members[m].Vector;
                Remove(v, h);
                dropped++;
                if (Counts[v] == 0) orphans.Add(v);
            }
            counts[h] = cap;
        }

        long moved = 0;
        orphans.Sort();
        foreach (int v in orphans)
        {
            int target = -1;
            var candidates = CandidateIds.AsSpan(v * _candidates, _candidates);
            foreach (int c in candidates)
                if (c >= 0 && counts[c] < cap) { target = c; break; }
            if (target < 0 && candidates[0] >= 0) target = NearestWithRoom(graph, candidates[0], counts, cap);
            if (target < 0) for (int h = 0; h < HeadCount && target < 0; h++) if (counts[h] < cap) target = h;
            if (target < 0)
            {
                // Every posting is full, but replicas fill some of them (N <= H * cap was checked): evict the farthest
                // multi-replica member of the orphan's nearest full candidate, so the orphan keeps a near head.
                foreach (int c in candidates)
                {
                    if (c < 0 || !EvictReplica(c)) continue;
                    counts[c]--;
                    dropped++;
                    target = c;
                    break;
                }
                for (int h = 0; h < HeadCount && target < 0; h++)
                {
                    if (!EvictReplica(h)) continue;
                    counts[h]--;
                    dropped++;
                    target = h;
                }
            }
            if (target < 0) throw new RetrievalException(ErrorKind.Internal, $"no posting has room for vector {v} although capacity was checked");
            Heads[v * _replicas] = target;
            Distances[v * _replicas] = float.NaN;
            Counts[v] = 1;
            counts[target]++;
            moved++;
        }
        return Stats(counts, cap, dropped, moved, skipped);
    }

    /// <summary>Rows per posting.</summary>
    public int[] PostingLengths()
    {
        var counts = new int[HeadCount];
        for (int v = 0; v < VectorCount; v++)
        {
            int b = v * _replicas;
            for (int r = 0; r < Counts[v]; r++) counts[Heads[b + r]]++;
        }
        return counts;
    }

    /// <summary>Removes from <paramref name="head"/> its farthest member that has another posting; false if none.</summary>
    private bool EvictReplica(int head)
    {
        int victim = -1;
        float farthest = float.NegativeInfinity;
        for (int v = 0; v < VectorCount; v++)
        {
            if (Counts[v] < 2) continue;
            int b = v * _replicas;
            for (int r = 0; r < Counts[v]; r++)
                if (Heads[b + r] == head && Distances[b + r] > farthest) { farthest = Distances[b + r]; victim = v; }
        }
        if (victim < 0) return false;
        Remove(victim, head);
        return true;
    }

    private void Remove(int v, int head)
    {
        int b = v * _replicas;
        int n = Counts[v];
        for (int r = 0; r < n; r++)
        {
            if (Heads[b + r] != head) continue;
            for (int s = r; s < n - 1; s++)
            {
                Heads[b + s] = Heads[b + s + 1];
                Distances[b + s] = Distances[b + s + 1];
            }
            Counts[v] = (byte)(n - 1);
            return;
        }
    }

    /// <summary>Breadth-first over the head graph from <paramref name="start"/>: the first head with room.</summary>
    private static int NearestWithRoom(NavigationGraph graph, int start, int[] counts, int cap)
    {
        var seen = new HashSet<int> { start };
        var queue = new Queue<int>();
        queue.Enqueue(start);
        while (queue.Count > 0)
        {
            int h = queue.Dequeue();
            if (counts[h] < cap) return h;
            foreach (int n in graph.Neighbours(h))
            {
                if (n < 0) break;
                if (seen.Add(n)) queue.Enqueue(n);
            }
        }
        return -1;
    }

    private float HeadDistance(int a, int b) =>
        DenseKernels.SquaredL2(_heads.AsSpan(a * _dimension, _dimension), _heads.AsSpan(b * _dimension, _dimension));

    private PostingAssignmentStats Stats(int[] lengths, int cap, long dropped, long moved, ReadOnlySpan<bool> skipped)
    {
        var histogram = new long[_replicas + 1];
        long total = 0, valid = 0, none = 0;
        for (int v = 0; v < VectorCount; v++)
        {
            if (!skipped.IsEmpty && skipped[v]) continue;
            valid++;
            histogram[Counts[v]]++;
            total += Counts[v];
            if (Counts[v] == 0) none++;
        }
        var sorted = (int[])lengths.Clone();
        Array.Sort(sorted);
        int n = sorted.Length;
        long sum = 0;
        foreach (int l in sorted) sum += l;
        return new PostingAssignmentStats(histogram, valid == 0 ? 0 : (double)total / valid,
            n == 0 ? 0 : sorted[0], n == 0 ? 0 : (double)sum / n,
            n == 0 ? 0 : sorted[(n - 1) / 2], n == 0 ? 0 : sorted[Math.Min(n - 1, (int)Math.Ceiling(0.99 * n) - 1)],
            n == 0 ? 0 : sorted[n - 1], cap, dropped, moved, none);
    }
}
