using Retrieval.Query.Encoders;

namespace Retrieval.Query.Engine;

/// <summary>
/// The live BM25 corpus statistics of a text collection's sparse field: per-term document frequency, total tokens
/// and documents over the live rows that came from text. Not thread-safe: <see cref="SegmentSet"/>'s lock guards it.
/// </summary>
internal sealed class TextStatistics(int vocabularySize)
{
    private readonly int[] _documentFrequency = new int[vocabularySize];
    private long _tokens;
    private int _documents;

    /// <summary>Adds (<paramref name="sign"/> +1) or removes (-1) one row; rows not encoded from text count nothing.</summary>
    public void Count(Segment segment, int row, int sign)
    {
        int tokens = segment.TextTokensAt(row);
        if (tokens <= 0 || segment.SparseAt(row) is not { } terms) return;
        foreach (int t in terms.Indices) _documentFrequency[t] += sign;
        _tokens += sign * tokens;
        _documents += sign;
    }

    /// <summary>A copy of the statistics with <paramref name="extraDocuments"/>/<paramref name="extraTokens"/> counted in.</summary>
    public CorpusStatistics Snapshot(int extraDocuments, long extraTokens, bool withDocumentFrequency)
    {
        var df = withDocumentFrequency ? (int[])_documentFrequency.Clone() : new int[_documentFrequency.Length];
        return new CorpusStatistics(_documents + extraDocuments, _tokens + extraTokens, df);
    }
}
