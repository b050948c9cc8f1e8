using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Reporting;

/// <summary>
/// The first line of every benchmark: the defaults a user gets without flags (the same ones the engine, the server
/// and the CLI use), so a result set always says what "default" meant when it was measured.
/// </summary>
public static class DefaultsLine
{
    public static ReportLine Create(string bench, params ReportField[] fields) => new([new("defaults", bench), .. fields]);
}
