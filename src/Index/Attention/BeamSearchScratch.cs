using System.Runtime.CompilerServices;

namespace Retrieval.Index.Attention;

/// <summary>
/// Reusable per-thread state of one graph search: an epoch-stamped visited array (never cleared, hnswlib's
/// habit) and the beam — one array of the best entries found so far, sorted best first, each flagged once
/// expanded (the NSG/DiskANN "retset"). One sorted array replaces hnswlib's candidate max-heap plus result
/// min-heap: an insertion is a binary search and a short memmove, the next expansion is a cursor scan, and a
/// candidate that falls out of the beam is simply dropped (it could never be expanded anyway). Arrays only grow,
/// so after warm-up a search allocates nothing. Not thread-safe: one scratch per concurrently running search.
/// </summary>
/// <remarks>
/// Static positions (the caller's sink and window, see <see cref="AttentionSearchParameters"/>) are kept in the
/// beam as stepping stones but do not count toward its width and never reach the results.
/// The sorted array costs less CPU per search than the two heaps (docs/BENCHMARKS.md).
/// </remarks>
public sealed class BeamSearchScratch
{
    // 16-bit stamps: half the cache footprint of int stamps (240 KB for 120K keys, well inside L2 next to the key
    // rows being fetched); cleared once every 65,535 searches.
    private ushort[] _visited = [];
    private ushort _epoch;

    private const int ExpandedBit = int.MinValue;
    private int[] _ids = new int[512];
    private float[] _scores = new float[512];
    private int _count;
    private int _nonStatic;
    private int _width;
    private int _cursor;
    private int _sinkEnd;
    private int _windowStart;

    /// <summary>Keys whose score was computed by the last search (graph nodes plus the exact append buffer).</summary>
    public int LastKeysScored { get; internal set; }

    /// <summary>
    /// Starts a search over <paramref name="nodeCount"/> graph nodes keeping the best <paramref name="width"/>
    /// non-static entries; positions in [0, sinkEnd) and [windowStart, ...) are static.
    /// </summary>
    internal void BeginSearch(int nodeCount, int width, int sinkEnd, int windowStart)
    {
        if (_visited.Length < nodeCount)
        {
            _visited = new ushort[Math.Max(nodeCount, _visited.Length + _visited.Length / 2)];
            _epoch = 0;
        }
        if (++_epoch == ushort.MaxValue)
        {
            Array.Clear(_visited);
            _epoch = 1;
        }
        if (_ids.Length < 2 * width + 64)
        {
            _ids = new int[2 * width + 64];
            _scores = new float[2 * width + 64];
        }
        _width = width;
        _count = 0;
        _nonStatic = 0;
        _cursor = 0;
        _sinkEnd = sinkEnd;
        _windowStart = windowStart;
    }

    internal ushort[] VisitedArray => _visited;

    internal ushort Epoch => _epoch;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool IsStatic(int position) => position < _sinkEnd || position >= _windowStart;

    /// <summary>The score an entry must beat to join a full beam, or -inf while it is not full.</summary>
    internal float Threshold
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _nonStatic == _width ? _scores[_count - 1] : float.NegativeInfinity;
    }

    /// <summary>
    /// Inserts (position, score) in order (ties: lower position first) unless the beam is full of better entries;
    /// <paramref name="expanded"/> entries are results only (e.g. the exact append buffer). Returns whether it entered.
    /// </summary>
    internal bool Insert(int position, float score, bool expanded = false)
    {
        int count = _count;
        if (_nonStatic == _width)
        {
            float worst = _scores[count - 1];
            if (score < worst || (score == worst && position > (_ids[count - 1] & ~ExpandedBit))) return false;
        }
        if (count == _ids.Length)
        {
            Array.Resize(ref _ids, count * 2);
            Array.Resize(ref _scores, count * 2);
        }
        int lo = 0, hi = count;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            float s = _scores[mid];
            if (s > score || (s == score && (_ids[mid] & ~ExpandedBit) < position)) lo = mid + 1;
            else hi = mid;
        }
        if (lo < count)
        {
            _ids.AsSpan(lo, count - lo).CopyTo(_ids.AsSpan(lo + 1));
            _scores.AsSpan(lo, count - lo).CopyTo(_scores.AsSpan(lo + 1));
        }
        _ids[lo] = expanded ? position | ExpandedBit : position;
        _scores[lo] = score;
        count++;
        if (!expanded && lo < _cursor) _cursor = lo;
        if (!IsStatic(position) && ++_nonStatic > _width)
        {
            // Drop the tail through the worst non-static entry, then any statics left behind it: they score
            // below the new threshold, so the search would never expand them.
            while (IsStatic(_ids[--count] & ~ExpandedBit)) { }
            _nonStatic--;
            while (count > 0 && IsStatic(_ids[count - 1] & ~ExpandedBit)) count--;
        }
        _count = count;
        return true;
    }

    /// <summary>The best entry not yet expanded (now marked expanded), or -1 when there is none.</summary>
    internal int NextToExpand()
    {
        int i = _cursor;
        while (i < _count && _ids[i] < 0) i++;
        if (i >= _count)
        {
            _cursor = i;
            return -1;
        }
        int id = _ids[i];
        _ids[i] = id | ExpandedBit;
        _cursor = i + 1;
        return id;
    }

    /// <summary>The entry <see cref="NextToExpand"/> would return now (not marked), or -1: a prefetch hint.</summary>
    internal int PeekNext()
    {
        for (int i = _cursor; i < _count; i++)
            if (_ids[i] >= 0) return _ids[i];
        return -1;
    }

    /// <summary>
    /// Writes the best <c>min(k, non-static entries)</c> results best first and pads the rest of the spans with
    /// id -1 / NaN; returns how many real results were written.
    /// </summary>
    internal int DrainTop(int k, Span<int> ids, Span<float> scores)
    {
        int written = 0;
        for (int i = 0; i < _count && written < k; i++)
        {
            int id = _ids[i] & ~ExpandedBit;
            if (IsStatic(id)) continue;
            ids[written] = id;
            scores[written++] = _scores[i];
        }
        for (int i = written; i < k; i++) { ids[i] = -1; scores[i] = float.NaN; }
        return written;
    }
}
