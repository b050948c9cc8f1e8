using Retrieval.Index.Errors;

namespace Retrieval.Bench.Corpora;

/// <summary>
/// Relevance judgements: query id -> document id -> graded relevance (0 = judged not relevant, higher = more
/// relevant). Built from a TREC qrels file or a BEIR qrels/*.tsv; a (query, document) pair appears once.
/// </summary>
public sealed class Qrels
{
    private static readonly IReadOnlyDictionary<string, int> NoJudgements = new Dictionary<string, int>();
    private readonly Dictionary<string, Dictionary<string, int>> _byQuery = new(StringComparer.Ordinal);
    private readonly List<string> _queryOrder = [];

    /// <summary>Number of (query, document) judgements.</summary>
    public int Count { get; private set; }

    /// <summary>Number of queries with at least one judgement.</summary>
    public int QueryCount => _queryOrder.Count;

    /// <summary>Query ids in the order they first appear in the source.</summary>
    public IReadOnlyList<string> QueryIds => _queryOrder;

    /// <summary>Adds one judgement; returns false (and changes nothing) when the pair is already judged.</summary>
    public bool TryAdd(string queryId, string documentId, int grade)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        ArgumentNullException.ThrowIfNull(documentId);
        if (!_byQuery.TryGetValue(queryId, out var docs))
        {
            docs = new Dictionary<string, int>(StringComparer.Ordinal);
            _byQuery.Add(queryId, docs);
            _queryOrder.Add(queryId);
        }
        if (!docs.TryAdd(documentId, grade)) return false;
        Count++;
        return true;
    }

    /// <summary>Adds one judgement; a pair judged twice is invalid input.</summary>
    public void Add(string queryId, string documentId, int grade)
    {
        if (!TryAdd(queryId, documentId, grade))
            Guard.ThrowInvalid($"qrels already judge query '{queryId}' / document '{documentId}'");
    }

    /// <summary>The judged documents of one query (document id -> grade); empty when the query has none.</summary>
    public IReadOnlyDictionary<string, int> For(string queryId) =>
        _byQuery.TryGetValue(queryId, out var docs) ? docs : NoJudgements;

    public bool HasJudgements(string queryId) => _byQuery.ContainsKey(queryId);

    /// <summary>The grade of one pair; 0 when it is not judged (unjudged counts as not relevant, the TREC rule).</summary>
    public int Grade(string queryId, string documentId) =>
        _byQuery.TryGetValue(queryId, out var docs) && docs.TryGetValue(documentId, out var g) ? g : 0;
}
