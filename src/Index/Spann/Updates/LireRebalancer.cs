using Retrieval.Index.Clustering;
using Retrieval.Index.Graphs;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>
/// SPFresh's LIRE protocol (Lightweight Incremental RE-balancing), run by the background rebuilder:
/// <list type="bullet">
/// <item>Split: a posting over its page limit is first garbage-collected (stale and deleted entries dropped); if still
/// too long it is split by balanced 2-means into two postings whose centroids become heads (a centroid that nearly
/// equals the old head keeps the old head's id), and the old head leaves.</item>
/// <item>Reassign (paper §3.3): a vector v of the split posting is a candidate if D(v, old) &lt;= D(v, new_i) for
/// both new heads; a vector of one of the ReassignK postings nearest the old head is a candidate if
/// D(v, new_i) &lt;= D(v, old) for some new head. A candidate re-runs head selection; if the posting it sits in is
/// still chosen nothing moves, else its version is bumped by compare-and-swap (skipped when a concurrent update bumped
/// it first) and it is appended to its new heads, so every old copy dies by version mismatch.</item>
/// <item>Merge: a posting with at most MergeThreshold live vectors is appended to its nearest head's posting (the
/// first near head whose combined size fits) and its head leaves.</item>
/// <item>Graph rebuild: once the heads added beside the navigation graph pass a fraction of it, a new graph is built
/// over all heads (outside the update lock) and swapped in.</item>
/// </list>
/// Every posting change is a whole new posting swapped in (copy-on-write), so searches never see a partial one.
/// </summary>
internal sealed class LireRebalancer(UpdateState state, BackgroundRebuilder queue)
{
    private readonly HeadSearchScratch _scratch = new(state.Layout.Dimension);

    public void Run(RebuildJob job)
    {
        switch (job.Kind)
        {
            case RebuildKind.Split:
                lock (state.Mutate) Split(job.Head);
                break;
            case RebuildKind.Merge:
                lock (state.Mutate) Merge(job.Head);
                break;
            default:
                RebuildGraph();
                break;
        }
    }

    /// <summary>Queues a split when <paramref name="posting"/> is over the limit.</summary>
    public void CheckSize(int head, UpdatablePosting posting)
    {
        if (posting.Count > state.Cap) queue.Enqueue(RebuildKind.Split, head);
    }

    private void Split(int head)
    {
        var view = state.View;
        if (head >= view.Count || !view.IsLive(head)) return;
        var posting = view.Posting(head) ?? UpdatablePosting.Empty;
        if (posting.Count <= state.Cap) return;
        posting = state.Reader.Load(posting);
        var builder = state.NewBuilder();
        builder.AddLive(posting, state.Versions);
        var live = builder.Build();
        if (live.Count <= state.Cap)
        {
            Set(view, head, live);
            Interlocked.Increment(ref state.GarbageCollections);
            return;
        }

        int n = live.Count, d = state.Dimension;
        var rows = new float[(long)n * d];
        for (int r = 0; r < n; r++) PostingRows.DecodeGeometry(live.Row(r, state.Layout.RowBytes), state.Layout.Storage, state.Metric, rows.AsSpan(r * d, d));
        var clusters = BalancedKMeans.Cluster(rows, n, d, 2, new BalancedKMeansOptions { Iterations = 8, Seed = head + 1 }, 1);
        var assignment = clusters.Assignment;
        var centroids = clusters.Centroids;
        if (clusters.Sizes[0] == 0 || clusters.Sizes[1] == 0)
        {
            // Identical vectors: 2-means cannot separate them; halve the posting so it still fits its pages.
            for (int r = 0; r < n; r++) assignment[r] = r < n / 2 ? 0 : 1;
            Centroid(rows, assignment, 0, centroids.AsSpan(0, d));
            Centroid(rows, assignment, 1, centroids.AsSpan(d, d));
        }
        // Under cosine heads live on the unit sphere: a raw centroid is shorter than its members, hence nearer to every
        // unit vector in L2, and would draw inserts from everywhere (measured on MiniLM: splits cascading without end).
        if (state.Metric == Metric.Cosine)
            for (int c = 0; c < 2; c++) SpannBuilder.Prepare(centroids.AsSpan(c * d, d), centroids.AsSpan(c * d, d), Metric.Cosine);
        var parts = new[] { state.NewBuilder(), state.NewBuilder() };
        for (int r = 0; r < n; r++) parts[assignment[r]].Add(live.Ids[r], live.Versions[r], live.Row(r, state.Layout.RowBytes), state.Layout.HasFactor ? live.Factors[r] : 0);

        var oldHead = view.Vector(head).ToArray();
        // SPTAG keeps the old head id for a centroid that (nearly) equals it; the other part gets a new head.
        int keep = -1;
        for (int c = 0; c < 2 && keep < 0; c++)
            if (DenseKernels.SquaredL2(oldHead, centroids.AsSpan(c * d, d)) <= 1e-6f * Math.Max(1f, DenseKernels.SquaredNorm(oldHead))) keep = c;
        var newHeads = new int[2];
        for (int c = 0; c < 2; c++)
        {
            var part = parts[c].Build();
            if (c == keep)
            {
                Set(state.View, head, part);
                newHeads[c] = head;
            }
            else
            {
                newHeads[c] = AddHead(centroids.AsSpan(c * d, d), part);
            }
        }
        if (keep < 0) Remove(head);
        Interlocked.Increment(ref state.Splits);
        view = state.View;
        foreach (int h in newHeads) CheckSize(h, view.Posting(h)!);
        Reassign(head, oldHead, newHeads, centroids);
    }

    private static void Centroid(float[] rows, int[] assignment, int cluster, Span<float> centroid)
    {
        int d = centroid.Length, n = 0;
        centroid.Clear();
        for (int r = 0; r < assignment.Length; r++)
        {
            if (assignment[r] != cluster) continue;
            System.Numerics.Tensors.TensorPrimitives.Add(centroid, rows.AsSpan(r * d, d), centroid);
            n++;
        }
        if (n > 0) System.Numerics.Tensors.TensorPrimitives.Multiply(centroid, 1f / n, centroid);
    }

    /// <summary>LIRE's reassign after a split of <paramref name="oldHeadId"/> into <paramref name="newHeads"/>.</summary>
    private void Reassign(int oldHeadId, float[] oldHead, int[] newHeads, float[] centroids)
    {
        var view = state.View;
        int d = state.Dimension;
        var n0 = centroids.AsSpan(0, d).ToArray();
        var n1 = centroids.AsSpan(d, d).ToArray();
        var row = new float[d];
        // (id, version it was seen with, posting it was seen in, decoded vector) per candidate, one per id.
        var candidates = new List<(int Id, byte Version, int From, float[] Vector, UpdatablePosting Posting, int Row)>();
        var seen = new HashSet<int>();

        void Consider(int from, bool splitMember)
        {
            if (view.Posting(from) is not { } slot) return;
            var p = state.Reader.Load(slot);
            for (int r = 0; r < p.Count; r++)
            {
                int id = p.Ids[r];
                if (!state.Versions.IsCurrent(id, p.Versions[r]) || seen.Contains(id)) continue;
                PostingRows.DecodeGeometry(p.Row(r, state.Layout.RowBytes), state.Layout.Storage, state.Metric, row);
                float dOld = DenseKernels.SquaredL2(row, oldHead);
                float d0 = DenseKernels.SquaredL2(row, n0), d1 = DenseKernels.SquaredL2(row, n1);
                Interlocked.Increment(ref state.ReassignChecked);
                bool candidate = splitMember ? dOld <= d0 && dOld <= d1 : d0 <= dOld || d1 <= dOld;
                if (!candidate) continue;
                seen.Add(id);
                candidates.Add((id, p.Versions[r], from, (float[])row.Clone(), p, r));
            }
        }

        foreach (int h in newHeads) Consider(h, splitMember: true);
        if (state.Options.ReassignK > 0)
        {
            int want = Math.Min(state.Options.ReassignK + 2, view.Count);
            _scratch.Ensure(2 * want);
            var ids = new int[want];
            var good = new float[want];
            int found = view.Nearest(oldHead, want, 2 * want, dot: false, _scratch, ids, good);
            int taken = 0;
            for (int i = 0; i < found && taken < state.Options.ReassignK; i++)
            {
                if (ids[i] == newHeads[0] || ids[i] == newHeads[1]) continue;
                Consider(ids[i], splitMember: false);
                taken++;
            }
        }
        if (candidates.Count == 0) return;

        var chosen = new int[state.Rule.Replicas];
        var appends = new Dictionary<int, UpdatablePosting.Builder>();
        foreach (var c in candidates)
        {
            int count = state.Place(view, c.Vector, _scratch, chosen);
            if (chosen.AsSpan(0, count).Contains(c.From)) continue;
            if (!state.Versions.TryBump(c.Id, c.Version, out byte next))
            {
                Interlocked.Increment(ref state.ReassignConflicts);
                continue;
            }
            var p = c.Posting;
            var stored = p.Row(c.Row, state.Layout.RowBytes);
            float factor = state.Layout.HasFactor ? p.Factors[c.Row] : 0;
            for (int i = 0; i < count; i++)
            {
                if (!appends.TryGetValue(chosen[i], out var b))
                {
                    b = state.NewBuilder();
                    appends[chosen[i]] = b;
                }
                b.Add(c.Id, next, stored, factor);
            }
            Interlocked.Increment(ref state.Reassigned);
        }
        foreach (var (h, rows) in appends) Append(h, rows.Build());
    }

    /// <summary>Rewrites <paramref name="head"/>'s posting as its live rows plus <paramref name="added"/>; queues a split if it is now too long.</summary>
    public void Append(int head, UpdatablePosting added)
    {
        var view = state.View;
        var b = state.NewBuilder();
        b.AddLive(state.Reader.Load(view.Posting(head) ?? UpdatablePosting.Empty), state.Versions);
        for (int r = 0; r < added.Count; r++)
            b.Add(added.Ids[r], added.Versions[r], added.Row(r, state.Layout.RowBytes), state.Layout.HasFactor ? added.Factors[r] : 0);
        var posting = b.Build();
        Set(view, head, posting);
        CheckSize(head, posting);
    }

    private void Merge(int head)
    {
        var view = state.View;
        if (head >= view.Count || !view.IsLive(head)) return;
        var posting = state.Reader.Load(view.Posting(head) ?? UpdatablePosting.Empty);
        var b = state.NewBuilder();
        b.AddLive(posting, state.Versions);
        var live = b.Build();
        if (live.Count > state.Options.MergeThreshold)
        {
            if (live.Count != posting.Count) { Set(view, head, live); Interlocked.Increment(ref state.GarbageCollections); }
            return;
        }
        if (view.LiveHeads <= 1) return;
        int want = Math.Min(16, view.Count);
        _scratch.Ensure(2 * want);
        var ids = new int[want];
        var good = new float[want];
        int found = view.Nearest(view.Vector(head), want, 2 * want, dot: false, _scratch, ids, good);
        int target = -1;
        UpdatablePosting? targetPosting = null;
        for (int i = 0; i < found && target < 0; i++)
        {
            if (ids[i] == head) continue;
            var slot = view.Posting(ids[i]) ?? UpdatablePosting.Empty;
            // Its row count bounds its live count: skip the read when even that fits, or when the live rows alone cannot.
            if (slot.Count + live.Count <= state.Cap) { target = ids[i]; targetPosting = slot; continue; }
            var p = state.Reader.Load(slot);
            if (p.LiveCount(state.Versions) + live.Count <= state.Cap) { target = ids[i]; targetPosting = p; }
        }
        if (target < 0) return;
        // The merged rows keep their versions (their other replicas stay valid); an id already in the target is not doubled.
        var merged = state.NewBuilder();
        var ids2 = new HashSet<int>();
        merged.AddLive(state.Reader.Load(targetPosting!), state.Versions, ids2);
        merged.AddLive(live, state.Versions, ids2);
        Set(view, target, merged.Build());
        Remove(head);
        Interlocked.Increment(ref state.Merges);
    }

    private void RebuildGraph()
    {
        HeadView view;
        float[] vectors;
        lock (state.Mutate)
        {
            view = state.View;
            if (view.Count - view.GraphNodes <= GraphSlack(view)) return;
            vectors = view.Vectors.AsSpan(0, view.Count * view.Dimension).ToArray();
        }
        // Removed heads stay in the new graph as waypoints (ids are positions); searches skip them.
        var graph = NavigationGraphBuilder.Build(vectors, view.Count, view.Dimension, state.GraphDegree, state.GraphCandidates, state.GraphAlpha, 1);
        lock (state.Mutate)
        {
            state.View = state.View.WithGraph(graph, view.Count);
            Interlocked.Increment(ref state.GraphRebuilds);
        }
    }

    private int GraphSlack(HeadView view) => Math.Max(64, (int)(state.Options.GraphRebuildFraction * view.GraphNodes));

    private static void Set(HeadView view, int head, UpdatablePosting posting) => Volatile.Write(ref view.Postings[head], posting);

    private int AddHead(ReadOnlySpan<float> vector, UpdatablePosting posting)
    {
        var view = state.View.WithHead(vector, posting);
        state.View = view;
        if (view.Count - view.GraphNodes > GraphSlack(view)) queue.Enqueue(RebuildKind.RebuildGraph, 0);
        return view.Count - 1;
    }

    private void Remove(int head)
    {
        var view = state.View;
        Volatile.Write(ref view.Removed[head], true);
        Volatile.Write(ref view.Postings[head], null);
    }
}
