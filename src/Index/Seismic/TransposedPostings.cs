namespace Retrieval.Index.Seismic;

/// <summary>
/// The full (unpruned) inverted lists, the CSC transpose of the forward index, built in two passes with no per-list
/// allocation. Weights are the forward index's stored values (after float16 rounding), so summaries built from
/// them dominate exactly what query time scores.
/// </summary>
internal sealed class TransposedPostings
{
    private readonly long[] _start;
    private readonly int[] _docs;
    private readonly float[] _weights;

    private TransposedPostings(long[] start, int[] docs, float[] weights)
    {
        _start = start;
        _docs = docs;
        _weights = weights;
    }

    public int VocabularySize => _start.Length - 1;
    public int LengthOf(int term) => (int)(_start[term + 1] - _start[term]);
    public ReadOnlySpan<int> DocsOf(int term) => _docs.AsSpan((int)_start[term], LengthOf(term));
    public ReadOnlySpan<float> WeightsOf(int term) => _weights.AsSpan((int)_start[term], LengthOf(term));

    public static TransposedPostings Build(ForwardIndex forward)
    {
        int vocabulary = forward.VocabularySize;
        var start = new long[vocabulary + 1];
        int maxLength = 0;
        for (int d = 0; d < forward.DocumentCount; d++) maxLength = Math.Max(maxLength, forward.LengthOf(d));
        var terms = new int[maxLength];
        var values = new float[maxLength];
        for (int d = 0; d < forward.DocumentCount; d++)
        {
            int n = forward.CopyRow(d, terms, values);
            for (int i = 0; i < n; i++) start[terms[i] + 1]++;
        }
        for (int t = 0; t < vocabulary; t++) start[t + 1] += start[t];
        var docs = new int[start[vocabulary]];
        var weights = new float[docs.Length];
        var cursor = (long[])start.Clone();
        for (int d = 0; d < forward.DocumentCount; d++)
        {
            int n = forward.CopyRow(d, terms, values);
            for (int i = 0; i < n; i++)
            {
                long slot = cursor[terms[i]]++;
                docs[slot] = d;
                weights[slot] = values[i];
            }
        }
        return new TransposedPostings(start, docs, weights);
    }
}
