namespace Retrieval.Query.Indexes;

/// <summary>
/// One named value of a result line. <see cref="Value"/> is null (written as JSON null) when the field does
/// not apply, or a string, bool, int, long, float or double. Names are snake_case, as they appear in JSON.
/// </summary>
public readonly record struct ReportField(string Name, object? Value);

/// <summary>A result line: an ordered list of fields, written as one JSON object or one table row.</summary>
public interface IReport
{
    IReadOnlyList<ReportField> Fields();
}
