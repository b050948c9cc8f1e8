namespace Retrieval.Index.Seismic;

/// <summary>
/// Builds the quantized summaries of one list's blocks (paper section 4.3): the coordinate-wise max over the block's
/// documents, pruned to the fewest heaviest entries holding SummaryEnergy (alpha) of its L1 mass, quantized to a
/// byte per entry with the block's min and (max - min) / 255 as scale (rounding to nearest: error at most scale / 2).
/// The list's entries are then regrouped component-major for one-pass scoring. A list of one block gets no summary.
/// </summary>
internal sealed class BlockSummarizer
{
    private readonly ForwardIndex _forward;
    private readonly double _energy;
    private readonly int _maxEntries;
    private readonly float[] _max;
    private readonly bool[] _present;
    private readonly List<int> _touched = new(1024);
    private readonly int[] _rowTerms;
    private readonly float[] _rowWeights;
    private long[] _byWeight = new long[1024];
    private readonly List<long> _componentKeys = new(4096);

    public BlockSummarizer(ForwardIndex forward, double summaryEnergy, int maxEntries, int maxDocumentLength)
    {
        _maxEntries = maxEntries;
        _forward = forward;
        _energy = summaryEnergy;
        _max = new float[forward.VocabularySize];
        _present = new bool[forward.VocabularySize];
        _rowTerms = new int[maxDocumentLength];
        _rowWeights = new float[maxDocumentLength];
    }

    /// <summary>One list's blocks, documents and summaries with local offsets; stitched into the global arrays later.</summary>
    internal sealed record ListBuild(int[] BlockBoundaries, int[] Docs, float[] BlockMin, float[] BlockScale,
        int[] ComponentTerms, int[] ComponentEntryCounts, ushort[] EntryBlocks, byte[] EntryCodes);

    public ListBuild Summarize(int listTerm, int[] boundaries, int[] orderedDocs)
    {
        int blocks = boundaries.Length - 1;
        var blockMin = new float[blocks];
        var blockScale = new float[blocks];
        _componentKeys.Clear();
        // A single-block list keeps no summary (see QuantizedSummaries): the search always scores its block.
        for (int b = 0; b < blocks && blocks > 1; b++)
        {
            for (int i = boundaries[b]; i < boundaries[b + 1]; i++)
            {
                int n = _forward.CopyRow(orderedDocs[i], _rowTerms, _rowWeights);
                for (int j = 0; j < n; j++)
                {
                    int t = _rowTerms[j];
                    if (!_present[t])
                    {
                        _present[t] = true;
                        _max[t] = _rowWeights[j];
                        _touched.Add(t);
                    }
                    else if (_rowWeights[j] > _max[t]) _max[t] = _rowWeights[j];
                }
            }
            PruneAndQuantize(b, listTerm, blockMin, blockScale);
        }
        // Component-major: sort (component, block) keys; codes ride in the low byte.
        var keys = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_componentKeys);
        keys.Sort();
        var entryBlocks = new ushort[keys.Length];
        var entryCodes = new byte[keys.Length];
        var componentTerms = new List<int>();
        var componentCounts = new List<int>();
        for (int e = 0; e < keys.Length; e++)
        {
            int term = (int)(keys[e] >> 24);
            entryBlocks[e] = (ushort)(keys[e] >> 8);
            entryCodes[e] = (byte)keys[e];
            if (componentTerms.Count == 0 || componentTerms[^1] != term)
            {
                componentTerms.Add(term);
                componentCounts.Add(0);
            }
            componentCounts[^1]++;
        }
        return new ListBuild(boundaries, orderedDocs, blockMin, blockScale, componentTerms.ToArray(), componentCounts.ToArray(),
            entryBlocks, entryCodes);
    }

    private void PruneAndQuantize(int block, int listTerm, float[] blockMin, float[] blockScale)
    {
        int n = _touched.Count;
        if (_byWeight.Length < n) _byWeight = new long[Math.Max(n, _byWeight.Length * 2)];
        var byWeight = _byWeight.AsSpan(0, n);
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            int t = _touched[i];
            float w = _max[t];
            total += w;
            // Non-negative weights order like their bit patterns: heaviest first, then lower term id.
            byWeight[i] = ((long)(int.MaxValue - BitConverter.SingleToInt32Bits(w)) << 32) | (uint)t;
        }
        byWeight.Sort();
        int keep = n;
        if (_energy < 1.0)
        {
            double target = _energy * total, sum = 0;
            keep = 0;
            while (keep < n && (keep == 0 || sum < target))
            {
                sum += _max[(int)(uint)byWeight[keep]];
                keep++;
            }
        }
        if (_maxEntries > 0 && keep > _maxEntries) keep = _maxEntries;
        if (keep < n)
        {
            // Every document of the block holds the list's own term, and any query visiting this list has it: keeping
            // it (one entry beyond the alpha prefix when it fell outside) stops a block from scoring zero against
            // exactly the queries that reach it, which would otherwise skip it regardless of the heap factor.
            for (int i = keep; i < n; i++)
            {
                if ((int)(uint)byWeight[i] != listTerm) continue;
                (byWeight[keep], byWeight[i]) = (byWeight[i], byWeight[keep]);
                keep++;
                break;
            }
        }
        float min = float.PositiveInfinity, max = 0f;
        for (int i = 0; i < keep; i++)
        {
            float w = _max[(int)(uint)byWeight[i]];
            min = Math.Min(min, w);
            max = Math.Max(max, w);
        }
        if (keep == 0) min = 0f;
        float scale = (max - min) / 255f;
        blockMin[block] = min;
        blockScale[block] = scale;
        for (int i = 0; i < keep; i++)
        {
            int t = (int)(uint)byWeight[i];
            long code = scale > 0 ? (long)Math.Clamp(MathF.Round((_max[t] - min) / scale), 0f, 255f) : 0;
            _componentKeys.Add(((long)t << 24) | ((long)block << 8) | code);
        }
        foreach (int t in _touched) _present[t] = false;
        _touched.Clear();
    }
}
