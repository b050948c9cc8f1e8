namespace Retrieval.Bench.Datasets.Sources;

/// <summary>The passages and queries of the passages set, before they are written.</summary>
public sealed record PassageCorpus(IReadOnlyList<Passage> Passages, IReadOnlyList<Passage> Queries);

/// <summary>
/// The rules that turn the three text sources into the passages set: cap at 512 characters, drop texts under
/// 40 characters and GCIDE synonym lists ("Syn: ..."), drop exact duplicates (the first kept, sources in the
/// order given: WordNet, GCIDE, Debian), shuffle with a fixed seed. Queries are the distinct Debian short
/// descriptions of at least 12 characters, shuffled with the same seed, the first <see cref="QueryCount"/>.
/// </summary>
public static class PassageCorpusBuilder
{
    public const ulong Seed = 20261128;
    public const int MinPassageCharacters = 40;
    public const int MinQueryCharacters = 12;
    public const int QueryCount = 10_000;

    /// <summary>True when a (capped) text is kept as a passage.</summary>
    public static bool KeepPassage(string capped) =>
        PassageText.CharacterCount(capped) >= MinPassageCharacters && !capped.StartsWith("Syn:", StringComparison.Ordinal);

    public static PassageCorpus Build(IEnumerable<IEnumerable<Passage>> sourcesInOrder, IEnumerable<Passage> queryCandidates,
        int queryCount = QueryCount, ulong seed = Seed, CancellationToken cancellationToken = default)
    {
        var passages = new List<Passage>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var source in sourcesInOrder)
        {
            foreach (var passage in source)
            {
                var text = PassageText.Cap(passage.Text);
                if (KeepPassage(text) && seen.Add(text)) passages.Add(passage with { Text = text });
                if ((passages.Count & 0xFFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
            }
        }
        SeededShuffle.Shuffle(passages, seed);

        var queries = new List<Passage>();
        var seenQueries = new HashSet<string>(StringComparer.Ordinal);
        foreach (var query in queryCandidates)
        {
            if (PassageText.CharacterCount(query.Text) >= MinQueryCharacters && seenQueries.Add(query.Text)) queries.Add(query);
        }
        SeededShuffle.Shuffle(queries, seed);
        if (queries.Count > queryCount) queries.RemoveRange(queryCount, queries.Count - queryCount);
        return new PassageCorpus(passages, queries);
    }
}
