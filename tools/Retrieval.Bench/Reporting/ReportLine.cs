using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Reporting;

/// <summary>A result line with free-form fields (dataset listings, a benchmark's bandwidth line).</summary>
public sealed class ReportLine(IReadOnlyList<ReportField> fields) : IReport
{
    public IReadOnlyList<ReportField> Fields() => fields;
}
