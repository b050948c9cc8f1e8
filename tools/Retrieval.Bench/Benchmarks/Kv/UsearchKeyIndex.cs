using Cloud.Unum.USearch;

namespace Retrieval.Bench.Benchmarks.Kv;

/// <summary>
/// The key-only HNSW peer: USearch (inner product, float32) over the keys. Keys are added from one thread (the
/// C# wrapper exposes no reserve, and concurrent adds fail). The search beam is swept by asking for
/// max(k, ef) results with expansion_search set low: USearch searches with max(expansion, count).
/// USearch does not report distance computations, so keys scored is unknown for this peer.
/// </summary>
public sealed class UsearchKeyIndex : IDisposable
{
    private readonly USearchIndex _index;
    private readonly float[] _query;

    public UsearchKeyIndex(float[] keys, int count, int dimension, int connectivity, int expansionAdd)
    {
        _index = new USearchIndex(MetricKind.Ip, ScalarKind.Float32, (ulong)dimension, (ulong)connectivity, (ulong)expansionAdd, 16, false);
        var row = new float[dimension];
        for (int i = 0; i < count; i++)
        {
            keys.AsSpan(i * dimension, dimension).CopyTo(row);
            _index.Add((ulong)i, row);
        }
        _query = new float[dimension];
        Connectivity = connectivity;
    }

    public int Connectivity { get; }

    /// <summary>Bytes of the index as USearch serialises it (vectors included).</summary>
    public long SerializedBytes()
    {
        string path = Path.Combine(Path.GetTempPath(), $"usearch-{Guid.NewGuid():N}.bin");
        try
        {
            _index.Save(path);
            return new FileInfo(path).Length;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Top-k with beam max(k, ef); writes ids and raw q·k scores best first (padded with -1/NaN).</summary>
    public int Search(ReadOnlySpan<float> query, int k, int ef, Span<int> ids, Span<float> scores)
    {
        query.CopyTo(_query);
        int found = _index.Search(_query, Math.Max(k, ef), out ulong[] keys, out float[] distances);
        int n = Math.Min(k, found);
        for (int i = 0; i < n; i++)
        {
            ids[i] = (int)keys[i];
            scores[i] = 1f - distances[i]; // USearch's inner-product distance is 1 - q·k
        }
        for (int i = n; i < k; i++) { ids[i] = -1; scores[i] = float.NaN; }
        return n;
    }

    public void Dispose() => _index.Dispose();
}
