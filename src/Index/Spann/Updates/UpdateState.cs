using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>
/// The mutable state an <see cref="UpdatableSpannIndex"/> shares between its foreground updates, its background
/// rebuilder and its checkpoints: the published head view, the version map, the rules and limits, and the counters.
/// Every change to heads or postings happens under <see cref="Mutate"/>; searches read <see cref="View"/> and the
/// version map without it. The version map alone also changes outside it (deletes), which is what the reassign
/// compare-and-swap guards against.
/// </summary>
internal sealed class UpdateState
{
    private HeadView _view;

    public UpdateState(PostingReader reader, HeadView view, VersionMap versions, PostingLayout layout, Metric metric, ReplicaRule rule, int cap, UpdatableSpannOptions options,
        int graphDegree, int graphCandidates, double graphAlpha)
    {
        _view = view;
        Reader = reader;
        Versions = versions;
        Layout = layout;
        Side = SidePostingLayout.For(layout);
        Metric = metric;
        Rule = rule;
        Cap = cap;
        Options = options;
        GraphDegree = graphDegree;
        GraphCandidates = graphCandidates;
        GraphAlpha = graphAlpha;
    }

    public Lock Mutate { get; } = new();
    public HeadView View { get => Volatile.Read(ref _view); set => Volatile.Write(ref _view, value); }
    public VersionMap Versions { get; }
    public PostingLayout Layout { get; }
    public SidePostingLayout Side { get; }
    public Metric Metric { get; }
    public int Dimension => Layout.Dimension;
    public ReplicaRule Rule { get; }
    /// <summary>Most rows a posting keeps before it is split (the page limit in rows).</summary>
    public int Cap { get; }
    public UpdatableSpannOptions Options { get; }
    /// <summary>Reads postings held only as extents (every posting persisted by the build or a checkpoint).</summary>
    public PostingReader Reader { get; init; }
    public int GraphDegree { get; }
    public int GraphCandidates { get; }
    public double GraphAlpha { get; }

    public long Inserts, Deletes, Splits, Merges, GarbageCollections, ReassignChecked, Reassigned, ReassignConflicts, GraphRebuilds, BytesWritten;
    public int Checkpoints;

    public UpdatablePosting.Builder NewBuilder() => new(Layout.RowBytes, Layout.HasFactor);

    /// <summary>Head selection for one vector in head geometry: candidates through the head view, then the replica rule.</summary>
    public int Place(HeadView view, ReadOnlySpan<float> geometry, HeadSearchScratch s, Span<int> chosen, int exclude = -1)
    {
        int want = Math.Min(Options.HeadCandidates + (exclude >= 0 ? 1 : 0), Math.Max(1, view.Count));
        s.Ensure(Math.Max(want, 2 * want));
        var ids = new int[want];
        var good = new float[want];
        int n = view.Nearest(geometry, want, 2 * want, dot: false, s, ids, good);
        if (exclude >= 0)
        {
            int w = 0;
            for (int i = 0; i < n; i++) if (ids[i] != exclude) { ids[w] = ids[i]; good[w] = good[i]; w++; }
            n = w;
        }
        return Rule.Select(view, ids.AsSpan(0, n), good.AsSpan(0, n), chosen);
    }
}
