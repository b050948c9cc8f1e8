namespace Retrieval.Index.Formats;

/// <summary>Counts tokens missing from the vocabulary; allocates a string only for a token not seen before.</summary>
internal sealed class UnknownTokenTally
{
    private readonly HashSet<string> _distinct = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
    private readonly List<string> _samples = [];
    private readonly int _sampleLimit;

    public UnknownTokenTally(int sampleLimit)
    {
        _sampleLimit = sampleLimit;
        _bySpan = _distinct.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public long Occurrences { get; private set; }
    public int Distinct => _distinct.Count;
    public IReadOnlyList<string> Samples => _samples;

    public void Add(ReadOnlySpan<char> token, long occurrences = 1)
    {
        Occurrences += occurrences;
        if (_bySpan.Contains(token)) return;
        var text = token.ToString();
        _distinct.Add(text);
        if (_samples.Count < _sampleLimit) _samples.Add(text);
    }
}
