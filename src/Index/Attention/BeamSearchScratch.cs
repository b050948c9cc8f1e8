using System.Runtime.CompilerServices;

namespace Retrieval.Index.Attention;

/// <summary>
/// Reusable per-thread state of one graph search: an epoch-stamped visited array (never cleared, hnswlib's
/// habit), the candidate max-heap and the bounded result min-heap. Arrays only grow, so after warm-up a search
/// allocates nothing. Not thread-safe: one scratch per concurrently running search.
/// </summary>
public sealed class BeamSearchScratch
{
    // 16-bit stamps: half the cache footprint of int stamps (240 KB for 120K keys, well inside L2 next to the key
    // rows being fetched); cleared once every 65,535 searches.
    private ushort[] _visited = [];
    private ushort _epoch;

    private int[] _candidateIds = new int[256];
    private float[] _candidateScores = new float[256];
    private int _candidateCount;

    private int[] _resultIds = new int[256];
    private float[] _resultScores = new float[256];
    private int _resultCount;
    private int _resultLimit;

    internal float[] Accumulator = new float[64];

    /// <summary>Keys whose score was computed by the last search (graph nodes plus the exact append buffer).</summary>
    public int LastKeysScored { get; internal set; }

    internal void BeginSearch(int nodeCount, int resultLimit)
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
        if (_resultIds.Length < resultLimit)
        {
            _resultIds = new int[resultLimit];
            _resultScores = new float[resultLimit];
        }
        _resultLimit = resultLimit;
        _resultCount = 0;
        _candidateCount = 0;
    }

    internal float[] AccumulatorFor(int dimension)
    {
        if (Accumulator.Length < dimension) Accumulator = new float[dimension];
        return Accumulator;
    }

    internal ushort[] VisitedArray => _visited;

    internal ushort Epoch => _epoch;

    /// <summary>Id of the best candidate (CandidateCount must be positive).</summary>
    internal int TopCandidate => _candidateIds[0];

    /// <summary>Marks a node visited; returns false if it already was in this search.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Visit(int node)
    {
        ref ushort stamp = ref _visited[node];
        if (stamp == _epoch) return false;
        stamp = _epoch;
        return true;
    }

    // ---- candidates: max-heap by score (best first) ----

    internal int CandidateCount => _candidateCount;

    internal void PushCandidate(int id, float score)
    {
        if (_candidateCount == _candidateIds.Length)
        {
            Array.Resize(ref _candidateIds, _candidateCount * 2);
            Array.Resize(ref _candidateScores, _candidateCount * 2);
        }
        int pos = _candidateCount++;
        while (pos > 0)
        {
            int parent = (pos - 1) >> 1;
            if (_candidateScores[parent] >= score) break;
            _candidateIds[pos] = _candidateIds[parent];
            _candidateScores[pos] = _candidateScores[parent];
            pos = parent;
        }
        _candidateIds[pos] = id;
        _candidateScores[pos] = score;
    }

    internal int PopCandidate(out float score)
    {
        int top = _candidateIds[0];
        score = _candidateScores[0];
        int n = --_candidateCount;
        if (n > 0)
        {
            int id = _candidateIds[n];
            float s = _candidateScores[n];
            int pos = 0;
            while (true)
            {
                int child = 2 * pos + 1;
                if (child >= n) break;
                if (child + 1 < n && _candidateScores[child + 1] > _candidateScores[child]) child++;
                if (_candidateScores[child] <= s) break;
                _candidateIds[pos] = _candidateIds[child];
                _candidateScores[pos] = _candidateScores[child];
                pos = child;
            }
            _candidateIds[pos] = id;
            _candidateScores[pos] = s;
        }
        return top;
    }

    // ---- results: bounded min-heap, worst at the root; ties keep the lower id ----

    internal int ResultCount => _resultCount;
    internal bool ResultsFull => _resultCount == _resultLimit;

    /// <summary>The score a candidate must beat to enter the results, or -inf while they are not full.</summary>
    internal float ResultThreshold
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _resultCount == _resultLimit ? _resultScores[0] : float.NegativeInfinity;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsBetter(float s1, int id1, float s2, int id2) => s1 > s2 || (s1 == s2 && id1 < id2);

    internal void PushResult(int id, float score)
    {
        if (_resultCount < _resultLimit)
        {
            int pos = _resultCount++;
            while (pos > 0)
            {
                int parent = (pos - 1) >> 1;
                if (!IsBetter(_resultScores[parent], _resultIds[parent], score, id)) break;
                _resultIds[pos] = _resultIds[parent];
                _resultScores[pos] = _resultScores[parent];
                pos = parent;
            }
            _resultIds[pos] = id;
            _resultScores[pos] = score;
            return;
        }
        if (!IsBetter(score, id, _resultScores[0], _resultIds[0])) return;
        SiftDownResult(0, id, score);
    }

    private void SiftDownResult(int pos, int id, float score)
    {
        int n = _resultCount;
        while (true)
        {
            int child = 2 * pos + 1;
            if (child >= n) break;
            int right = child + 1;
            if (right < n && IsBetter(_resultScores[child], _resultIds[child], _resultScores[right], _resultIds[right])) child = right;
            if (!IsBetter(score, id, _resultScores[child], _resultIds[child])) break;
            _resultIds[pos] = _resultIds[child];
            _resultScores[pos] = _resultScores[child];
            pos = child;
        }
        _resultIds[pos] = id;
        _resultScores[pos] = score;
    }

    /// <summary>
    /// Writes the best <c>min(k, ResultCount)</c> results best first (the rest of the heap is dropped) and pads
    /// the remainder of the spans with id -1 / NaN; returns how many real results were written.
    /// </summary>
    internal int DrainTop(int k, Span<int> ids, Span<float> scores)
    {
        while (_resultCount > k) PopWorst(out _, out _);
        int written = _resultCount;
        for (int i = written - 1; i >= 0; i--)
        {
            PopWorst(out ids[i], out scores[i]);
        }
        for (int i = written; i < k; i++) { ids[i] = -1; scores[i] = float.NaN; }
        return written;
    }

    private void PopWorst(out int id, out float score)
    {
        id = _resultIds[0];
        score = _resultScores[0];
        int n = --_resultCount;
        if (n > 0) SiftDownResult(0, _resultIds[n], _resultScores[n]);
    }
}
