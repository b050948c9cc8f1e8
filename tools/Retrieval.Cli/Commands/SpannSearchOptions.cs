using System.CommandLine;
using Retrieval.Index.Errors;
using Retrieval.Index.Spann;
using Retrieval.Query.Indexes;
using Retrieval.Query.Indexes.Spann;

namespace Retrieval.Cli.Commands;

/// <summary>`search --index DIR` knobs of SPANN indexes: --heads M, --eps2 X, --beam, --direct-io / --in-memory.</summary>
public sealed class SpannSearchOptions
{
    private readonly Option<int?> _heads = new("--heads") { Description = "SPANN: heads (postings) probed per query, M.", HelpName = "M" };
    private readonly Option<double?> _eps2 = new("--eps2") { Description = "SPANN: query-aware pruning; keep head j if its distance is within (1+eps2) of the nearest head's (negative: off).", HelpName = "X" };
    private readonly Option<int?> _beam = new("--beam") { Description = "SPANN: navigation-graph beam width (ef) over heads (default: M + max(4, M/4)).", HelpName = "EF" };
    private readonly Option<bool> _directIo = new("--direct-io") { Description = "SPANN: read postings with O_DIRECT (bypass the page cache: every read hits the device)." };
    private readonly Option<bool> _inMemory = new("--in-memory") { Description = "SPANN: load the posting file into memory first (no reads at query time)." };

    public void AddTo(Command command)
    {
        command.Options.Add(_heads);
        command.Options.Add(_eps2);
        command.Options.Add(_beam);
        command.Options.Add(_directIo);
        command.Options.Add(_inMemory);
        command.Validators.Add(result =>
        {
            if (result.GetValue(_directIo) && result.GetValue(_inMemory)) result.AddError("give at most one of --direct-io and --in-memory");
        });
    }

    public void Apply(ParseResult parse, ISearchIndex searched)
    {
        bool any = parse.GetValue(_heads) is not null || parse.GetValue(_eps2) is not null || parse.GetValue(_beam) is not null ||
                   parse.GetValue(_directIo) || parse.GetValue(_inMemory);
        if (searched is not SpannSearchIndex spann)
        {
            if (any) throw new RetrievalException(ErrorKind.InvalidInput, $"--heads/--eps2/--beam/--direct-io/--in-memory are SPANN options; the {searched.Kind} index takes none");
            return;
        }
        var p = spann.Defaults;
        if (parse.GetValue(_heads) is { } m) p = p with { Heads = m };
        if (parse.GetValue(_eps2) is { } e) p = p with { PruneEpsilon = e };
        if (parse.GetValue(_beam) is { } b) p = p with { SearchBeamWidth = b };
        if (parse.GetValue(_directIo)) p = p with { Io = PostingIoMode.Direct };
        if (parse.GetValue(_inMemory)) p = p with { Io = PostingIoMode.Memory };
        p.Validate();
        spann.Defaults = p;
        spann.Index.Prepare(p.Io);
    }
}
