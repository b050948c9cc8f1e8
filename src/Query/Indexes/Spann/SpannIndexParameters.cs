using Retrieval.Index.Spann;

namespace Retrieval.Query.Indexes.Spann;

/// <summary>SPANN's query-time knobs as the query layer passes them: heads probed (M), eps2, beam, I/O mode.</summary>
/// <remarks>
/// Embedded use: an index opened through <see cref="IndexRegistry"/> is an <see cref="ISearchIndex"/>; pass
/// <c>SpannIndexParameters.Create(heads: 32, eps2: 0.3)</c> (or <c>new SpannIndexParameters(parameters)</c>) as its settings to
/// search with those knobs. Other index kinds keep their own settings records.
/// </remarks>
public sealed record SpannIndexParameters(SpannSearchParameters Parameters) : SearchParameters
{
    /// <summary>The defaults with the given knobs replaced; validated here so a bad value fails before any search.</summary>
    public static SpannIndexParameters Create(int? heads = null, double? eps2 = null, int? beam = null, PostingIoMode? io = null,
        int? rerankFactor = null, SpannSearchParameters? defaults = null)
    {
        var p = defaults ?? new SpannSearchParameters();
        if (heads is { } m) p = p with { Heads = m };
        if (eps2 is { } e) p = p with { PruneEpsilon = e };
        if (beam is { } b) p = p with { SearchBeamWidth = b };
        if (io is { } i) p = p with { Io = i };
        if (rerankFactor is { } r) p = p with { RerankFactor = r };
        p.Validate();
        return new SpannIndexParameters(p);
    }

    public override IReadOnlyList<ReportField> Describe() =>
    [
        new("heads", Parameters.Heads),
        new("eps2", Parameters.PruneEpsilon),
        new("beam", Parameters.BeamFor(Parameters.Heads)),
        new("io", Parameters.Io switch { PostingIoMode.Direct => "direct", PostingIoMode.Memory => "memory", _ => "buffered" }),
    ];
}
