using Retrieval.Index.Spann;
using Retrieval.Query.Reporting;

namespace Retrieval.Query.Indexes.Spann;

/// <summary>SPANN's query-time knobs as the query layer passes them: heads probed (M), eps2, beam, I/O mode.</summary>
public sealed record SpannSettings(SpannSearchParameters Parameters) : SearchSettings
{
    public override IReadOnlyList<ReportField> Describe() =>
    [
        new("heads", Parameters.Heads),
        new("eps2", Parameters.PruneEpsilon),
        new("beam", Parameters.BeamFor(Parameters.Heads)),
        new("io", Parameters.Io switch { PostingIoMode.Direct => "direct", PostingIoMode.Memory => "memory", _ => "buffered" }),
    ];
}
