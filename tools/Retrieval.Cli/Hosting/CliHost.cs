using System.CommandLine;
using Retrieval.Bench.Reporting;

namespace Retrieval.Cli.Hosting;

/// <summary>
/// What every command writes to: result lines on <see cref="Out"/> (JSON Lines with --json, a table
/// otherwise), progress and logs on <see cref="Error"/>. Tests pass string writers; the real program passes
/// the console and whether stderr is a terminal.
/// </summary>
public sealed class CliHost
{
    public CliHost(TextWriter output, TextWriter error, bool errorIsTerminal)
    {
        Out = output;
        Error = error;
        ErrorIsTerminal = errorIsTerminal;
    }

    public TextWriter Out { get; }
    public TextWriter Error { get; }
    public bool ErrorIsTerminal { get; }

    /// <summary>--json: machine-readable result lines on stdout, one JSON object per line.</summary>
    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print results as JSON Lines on stdout (one object per result); progress and logs stay on stderr.",
        Recursive = true,
    };

    /// <summary>--quiet: no progress output.</summary>
    public Option<bool> Quiet { get; } = new("--quiet", "-q")
    {
        Description = "Show no progress on stderr (errors are still printed).",
        Recursive = true,
    };

    private HelpWithExamples? _help;

    /// <summary>Makes --help print each command's examples (call once, on the root, before adding examples).</summary>
    public void UseExamplesHelp(RootCommand root) => _help = HelpWithExamples.Install(root);

    /// <summary>Registers the examples printed at the end of <paramref name="command"/>'s --help.</summary>
    public void Examples(Command command, params string[] examples) =>
        (_help ?? throw new InvalidOperationException("UseExamplesHelp first")).Add(command, examples);

    public IReadOnlyCollection<Command> CommandsWithExamples => _help?.CommandsWithExamples ?? [];

    public ProgressReporter Progress(ParseResult parse) =>
        new(Error, ProgressReporter.ModeFor(ErrorIsTerminal, parse.GetValue(Quiet)));

    /// <summary>A result writer for one command run: streams JSON lines, or collects rows for one table.</summary>
    public ResultWriter Results(ParseResult parse) => new(Out, parse.GetValue(Json));
}
