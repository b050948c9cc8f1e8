using Retrieval.Query.Engine;

namespace Retrieval.Tests.Engine;

internal static class EngineTestSupport
{
    /// <summary>Small FASTER sizes (a few MiB) and no background checkpoints, so tests are fast and deterministic.</summary>
    public static EngineOptions Small(int sealRows = 64, bool checkpointOnClose = true) => new()
    {
        StoreMemoryBits = 22,
        StorePageBits = 20,
        StoreSegmentBits = 24,
        StoreIndexBuckets = 1 << 10,
        LogPageBits = 20,
        LogMemoryBits = 22,
        LogSegmentBits = 24,
        SealRows = sealRows,
        CheckpointInterval = TimeSpan.Zero,
        CheckpointOnClose = checkpointOnClose,
        EncoderThreads = 1,
    };

    public static float[] RandomVector(Random random, int dimension)
    {
        var v = new float[dimension];
        for (int i = 0; i < dimension; i++) v[i] = (float)(random.NextDouble() * 2 - 1);
        return v;
    }

    public static SparseTerms RandomSparse(Random random, int vocabulary, int terms)
    {
        var set = new SortedSet<int>();
        while (set.Count < terms) set.Add(random.Next(vocabulary));
        var indices = new int[set.Count];
        var values = new float[set.Count];
        int i = 0;
        foreach (int t in set)
        {
            indices[i] = t;
            values[i++] = (float)random.NextDouble() + 0.01f;
        }
        return new SparseTerms(indices, values);
    }

    public static byte[] Json(string text) => System.Text.Encoding.UTF8.GetBytes(text);
}
