using System.Runtime.CompilerServices;

namespace Retrieval.Index.Search;

/// <summary>
/// Bounded min-heap that keeps the k best (highest-goodness) candidates seen. "Goodness" is higher-is-better:
/// callers searching by L2 push the negated distance. Ties keep the lower id, matching ground truth files
/// that order equal scores by row. Reusable across queries through <see cref="Clear"/> (no per-query allocation).
/// </summary>
public sealed class TopKHeap
{
    private readonly float[] _goodness;
    private readonly int[] _ids;
    private int _count;

    public TopKHeap(int capacity)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be >= 1");
        Capacity = capacity;
        _goodness = new float[capacity];
        _ids = new int[capacity];
    }

    public int Capacity { get; }
    public int Count => _count;
    public bool IsFull => _count == Capacity;

    /// <summary>The worst goodness kept, or -inf while the heap is not full: a candidate must beat it to enter.</summary>
    public float Threshold
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _count == Capacity ? _goodness[0] : float.NegativeInfinity;
    }

    public void Clear() => _count = 0;

    /// <summary>The ids kept so far, in heap order (not sorted); valid until the next <see cref="Push"/>.</summary>
    public ReadOnlySpan<int> UnorderedIds => _ids.AsSpan(0, _count);

    /// <summary>Offers a candidate; returns true if it was kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Push(int id, float goodness)
    {
        if (_count < Capacity)
        {
            SiftUp(_count++, id, goodness);
            return true;
        }
        if (!IsBetter(goodness, id, _goodness[0], _ids[0])) return false;
        SiftDown(0, id, goodness);
        return true;
    }

    /// <summary>Writes the kept candidates best first and empties the heap; returns how many were written.</summary>
    public int DrainSorted(Span<int> ids, Span<float> goodness)
    {
        int n = _count;
        // Pop the worst repeatedly, filling from the back.
        for (int i = n - 1; i >= 0; i--)
        {
            ids[i] = _ids[0];
            goodness[i] = _goodness[0];
            _count--;
            if (_count > 0) SiftDown(0, _ids[_count], _goodness[_count]);
        }
        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsBetter(float g1, int id1, float g2, int id2) => g1 > g2 || (g1 == g2 && id1 < id2);

    private void SiftUp(int pos, int id, float goodness)
    {
        while (pos > 0)
        {
            int parent = (pos - 1) >> 1;
            if (!IsBetter(_goodness[parent], _ids[parent], goodness, id)) break;
            _goodness[pos] = _goodness[parent];
            _ids[pos] = _ids[parent];
            pos = parent;
        }
        _goodness[pos] = goodness;
        _ids[pos] = id;
    }

    private void SiftDown(int pos, int id, float goodness)
    {
        int n = _count;
        while (true)
        {
            int child = 2 * pos + 1;
            if (child >= n) break;
            int right = child + 1;
            if (right < n && IsBetter(_goodness[child], _ids[child], _goodness[right], _ids[right])) child = right;
            if (!IsBetter(goodness, id, _goodness[child], _ids[child])) break;
            _goodness[pos] = _goodness[child];
            _ids[pos] = _ids[child];
            pos = child;
        }
        _goodness[pos] = goodness;
        _ids[pos] = id;
    }
}
