
namespace Retrieval.Query.Indexes;

/// <summary>
/// Query-time parameters of one index kind (an immutable record per kind, e.g. SPANN's head count and
/// pruning epsilon). <see cref="Describe"/> names them for result lines, so a --sweep line says which
/// setting produced it. An index casts the settings it is given back to its own record type.
/// </summary>
public abstract record SearchParameters
{
    /// <summary>The settings as report fields (snake_case names); empty when the index has none.</summary>
    public abstract IReadOnlyList<ReportField> Describe();
}

/// <summary>Settings of an index with no query-time knobs (exact search).</summary>
public sealed record NoSearchParameters : SearchParameters
{
    public static NoSearchParameters Instance { get; } = new();

    public override IReadOnlyList<ReportField> Describe() => [];
}
