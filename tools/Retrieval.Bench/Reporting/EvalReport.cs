using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Reporting;

/// <summary>The result line of `retrieval eval`: ranking quality against graded relevance judgements.</summary>
public sealed record EvalReport : IReport
{
    public required double NdcgAt10 { get; init; }
    public required double MrrAt10 { get; init; }
    public required double RecallAt100 { get; init; }
    /// <summary>What was evaluated (dataset, mode, query count), written after the fixed fields.</summary>
    public IReadOnlyList<ReportField> Details { get; init; } = [];

    public IReadOnlyList<ReportField> Fields()
    {
        var fields = new List<ReportField>(3 + Details.Count)
        {
            new("ndcg_at_10", NdcgAt10),
            new("mrr_at_10", MrrAt10),
            new("recall_at_100", RecallAt100),
        };
        fields.AddRange(Details);
        return fields;
    }
}
