namespace Retrieval.Index.Seismic;

/// <summary>
/// Splits one pruned inverted list into blocks by a cheap clustering of its documents (paper section 4.2): about
/// CentroidFraction x length documents of the list are sampled as centroids; every document joins the centroid it
/// shares the most weight with, compared on the document's few heaviest components against an inverted index of the
/// centroids' heaviest components (one pass, no iterations). The list's own term is left out of the comparison since
/// every document holds it. Clusters smaller than MinClusterSize are dissolved and their documents reassigned;
/// documents that share nothing with any surviving centroid are chunked into blocks of the mean cluster size.
/// </summary>
internal sealed class ListBlocking
{
    private readonly ForwardIndex _forward;
    private readonly SeismicBuildOptions _options;
    // Centroid component index as linked chains per vocabulary term, reset after each list via the touched terms.
    private readonly int[] _chainHead;
    private readonly List<int> _chainTerms = [];
    private int[] _entryNext = new int[256];
    private int[] _entryCentroid = new int[256];
    private float[] _entryWeight = new float[256];
    private int _entryCount;
    private readonly int[] _rowTerms;
    private readonly float[] _rowWeights;
    private readonly int[] _topTerms;
    private readonly float[] _topWeights;
    private float[] _centroidScore = new float[64];
    private int[] _touchedCentroids = new int[64];
    private bool[] _alive = new bool[64];
    private int[] _assignment = new int[64];
    private int[] _sizes = new int[64];
    private int[] _positions = new int[64];
    private long[] _keys = new long[64];

    public ListBlocking(ForwardIndex forward, SeismicBuildOptions options, int maxDocumentLength)
    {
        _forward = forward;
        _options = options;
        _chainHead = new int[forward.VocabularySize];
        _chainHead.AsSpan().Fill(-1);
        _rowTerms = new int[maxDocumentLength];
        _rowWeights = new float[maxDocumentLength];
        int top = Math.Max(options.DocumentComponents, options.CentroidComponents);
        _topTerms = new int[top];
        _topWeights = new float[top];
    }

    /// <summary>
    /// Writes the list's documents regrouped block by block into <paramref name="orderedDocs"/> (ascending ids inside a
    /// block) and returns the block boundaries (length blocks + 1, local offsets).
    /// </summary>
    public int[] Partition(int term, ReadOnlySpan<int> listDocs, ReadOnlySpan<float> listWeights, Span<int> orderedDocs)
    {
        int length = listDocs.Length;
        int centroids = (int)Math.Min(SeismicBuildOptions.MaxBlocksPerList,
            Math.Max(1, Math.Ceiling(_options.CentroidFraction * length)));
        if (centroids == 1 || length <= _options.MinClusterSize)
        {
            listDocs.CopyTo(orderedDocs);
            orderedDocs[..length].Sort();
            return [0, length];
        }
        EnsureCapacity(centroids, length);
        var rng = new Random(unchecked(_options.Seed * 1_000_003 + term));
        var positions = _positions.AsSpan(0, length);
        for (int i = 0; i < length; i++) positions[i] = i;
        for (int c = 0; c < centroids; c++)
        {
            int pick = rng.Next(c, length);
            (positions[c], positions[pick]) = (positions[pick], positions[c]);
            IndexCentroid(c, listDocs[positions[c]], term);
            _alive[c] = true;
        }

        var assignment = _assignment.AsSpan(0, length);
        for (int i = 0; i < length; i++) assignment[i] = Assign(listDocs[i], term);
        bool dissolved = CountSizes(assignment, centroids, out _);
        if (dissolved)
        {
            for (int i = 0; i < length; i++)
                if (assignment[i] < 0 || !_alive[assignment[i]]) assignment[i] = Assign(listDocs[i], term);
            // A second round can shrink clusters again; the rule is applied once, as in Seismic, and any cluster still
            // below the minimum stays a (small) block rather than looping.
            for (int c = 0; c < centroids; c++) _sizes[c] = 0;
            for (int i = 0; i < length; i++) if (assignment[i] >= 0) _sizes[assignment[i]]++;
        }
        ResetCentroidIndex();

        // Emit blocks: clusters in centroid order, then the unassigned documents. A cluster larger than the block cap,
        // and the unassigned rest, are cut by the list term's weight (heaviest first) into near-equal chunks: the list
        // term dominates a block's summary score, so chunks graded by it give summaries that separate the blocks worth
        // scoring from the rest, where an arbitrary cut gives every chunk the same loose bound.
        int[] clusterStart = new int[centroids + 2];
        for (int c = 0; c < centroids; c++) clusterStart[c + 1] = clusterStart[c] + _sizes[c];
        int assigned = clusterStart[centroids];
        clusterStart[centroids + 1] = length;
        var cursor = (int[])clusterStart.Clone();
        var keys = _keys.AsSpan(0, length);
        for (int i = 0; i < length; i++)
        {
            int c = assignment[i] >= 0 ? assignment[i] : centroids;
            keys[cursor[c]++] = ((long)(int.MaxValue - BitConverter.SingleToInt32Bits(listWeights[i] + 0f)) << 32) | (uint)listDocs[i];
        }
        var boundaries = new List<int>(centroids + 2) { 0 };
        int meanBlock = Math.Max(_options.MinClusterSize, (int)Math.Ceiling(1.0 / _options.CentroidFraction));
        int maxBlock = Math.Max(_options.MinClusterSize, (int)Math.Ceiling(_options.MaxBlockFactor * meanBlock));
        for (int c = 0; c <= centroids; c++)
        {
            int from = clusterStart[c], size = clusterStart[c + 1] - from;
            if (size == 0) continue;
            int cap = c < centroids ? maxBlock : meanBlock;
            int chunks = (size + cap - 1) / cap;
            // Never exceed the per-list block limit (the 16-bit block index): later pieces grow instead.
            chunks = Math.Max(1, Math.Min(chunks, SeismicBuildOptions.MaxBlocksPerList - (boundaries.Count - 1) - (centroids - c)));
            if (chunks > 1) keys.Slice(from, size).Sort();
            for (int j = 0; j < chunks; j++)
            {
                int a = from + (int)((long)size * j / chunks), b = from + (int)((long)size * (j + 1) / chunks);
                for (int i = a; i < b; i++) orderedDocs[i] = (int)(uint)keys[i];
                orderedDocs[a..b].Sort();
                boundaries.Add(b);
            }
        }
        return boundaries.ToArray();
    }

    private bool CountSizes(ReadOnlySpan<int> assignment, int centroids, out int unassigned)
    {
        var sizes = _sizes.AsSpan(0, centroids);
        sizes.Clear();
        unassigned = 0;
        foreach (int c in assignment)
        {
            if (c >= 0) sizes[c]++;
            else unassigned++;
        }
        bool dissolved = false;
        for (int c = 0; c < centroids; c++)
        {
            if (sizes[c] > 0 && sizes[c] < _options.MinClusterSize)
            {
                _alive[c] = false;
                dissolved = true;
            }
        }
        return dissolved;
    }

    private void IndexCentroid(int centroid, int doc, int listTerm)
    {
        int n = TopComponents(doc, listTerm, _options.CentroidComponents);
        for (int i = 0; i < n; i++)
        {
            int t = _topTerms[i];
            if (_entryCount == _entryNext.Length) GrowEntries();
            if (_chainHead[t] < 0) _chainTerms.Add(t);
            _entryNext[_entryCount] = _chainHead[t];
            _entryCentroid[_entryCount] = centroid;
            _entryWeight[_entryCount] = _topWeights[i];
            _chainHead[t] = _entryCount++;
        }
    }

    /// <summary>The live centroid sharing the most weight with the document (ties: lower centroid), or -1 for none.</summary>
    private int Assign(int doc, int listTerm)
    {
        int n = TopComponents(doc, listTerm, _options.DocumentComponents);
        int touched = 0;
        for (int i = 0; i < n; i++)
        {
            float w = _topWeights[i];
            for (int e = _chainHead[_topTerms[i]]; e >= 0; e = _entryNext[e])
            {
                int c = _entryCentroid[e];
                if (!_alive[c]) continue;
                if (_centroidScore[c] == 0f) _touchedCentroids[touched++] = c;
                // + epsilon keeps a touched score non-zero even if the product underflows (zero marks untouched).
                _centroidScore[c] += w * _entryWeight[e] + float.Epsilon;
            }
        }
        int best = -1;
        float bestScore = 0f;
        for (int i = 0; i < touched; i++)
        {
            int c = _touchedCentroids[i];
            float s = _centroidScore[c];
            if (s > bestScore || (s == bestScore && c < best)) { best = c; bestScore = s; }
            _centroidScore[c] = 0f;
        }
        return best;
    }

    /// <summary>The document's heaviest components other than the list term, into _topTerms/_topWeights; returns how many.</summary>
    private int TopComponents(int doc, int listTerm, int limit)
    {
        int length = _forward.CopyRow(doc, _rowTerms, _rowWeights);
        int count = 0;
        for (int i = 0; i < length; i++)
        {
            int t = _rowTerms[i];
            float w = _rowWeights[i];
            if (t == listTerm || w <= 0f) continue;
            if (count == limit && w <= _topWeights[count - 1]) continue;
            int pos = count < limit ? count++ : count - 1;
            while (pos > 0 && _topWeights[pos - 1] < w)
            {
                _topWeights[pos] = _topWeights[pos - 1];
                _topTerms[pos] = _topTerms[pos - 1];
                pos--;
            }
            _topWeights[pos] = w;
            _topTerms[pos] = t;
        }
        return count;
    }

    private void ResetCentroidIndex()
    {
        foreach (int t in _chainTerms) _chainHead[t] = -1;
        _chainTerms.Clear();
        _entryCount = 0;
    }

    private void GrowEntries()
    {
        int size = _entryNext.Length * 2;
        Array.Resize(ref _entryNext, size);
        Array.Resize(ref _entryCentroid, size);
        Array.Resize(ref _entryWeight, size);
    }

    private void EnsureCapacity(int centroids, int length)
    {
        if (_centroidScore.Length < centroids)
        {
            int size = Math.Max(centroids, _centroidScore.Length * 2);
            _centroidScore = new float[size];
            _touchedCentroids = new int[size];
            _alive = new bool[size];
            _sizes = new int[size];
        }
        if (_assignment.Length < length)
        {
            int size = Math.Max(length, _assignment.Length * 2);
            _assignment = new int[size];
            _positions = new int[size];
            _keys = new long[size];
        }
    }
}
