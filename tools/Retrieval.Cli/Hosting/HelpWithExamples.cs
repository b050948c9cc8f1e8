using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Retrieval.Cli.Hosting;

/// <summary>
/// --help as System.CommandLine prints it, followed by an "Examples:" section for the command asked about.
/// Examples live here rather than in each description so the root's command list stays one line per command.
/// </summary>
public sealed class HelpWithExamples : SynchronousCommandLineAction
{
    private readonly HelpAction _standard;
    private readonly Dictionary<Command, string[]> _examples = [];

    private HelpWithExamples(HelpAction standard) => _standard = standard;

    public override bool ClearsParseErrors => true;

    /// <summary>Replaces the help action of <paramref name="root"/>'s help option (inherited by every subcommand).</summary>
    public static HelpWithExamples Install(RootCommand root)
    {
        foreach (var option in root.Options)
        {
            if (option is HelpOption help)
            {
                var action = new HelpWithExamples(help.Action as HelpAction ?? new HelpAction());
                help.Action = action;
                return action;
            }
        }
        throw new InvalidOperationException("root command has no help option");
    }

    public void Add(Command command, params string[] examples) => _examples[command] = examples;

    /// <summary>Every command that has examples (tests check that each command has some).</summary>
    public IReadOnlyCollection<Command> CommandsWithExamples => _examples.Keys;

    public override int Invoke(ParseResult parseResult)
    {
        int code = _standard.Invoke(parseResult);
        if (_examples.TryGetValue(parseResult.CommandResult.Command, out var examples))
        {
            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine("Examples:");
            foreach (var example in examples) output.WriteLine("  " + example);
            output.WriteLine();
        }
        return code;
    }
}
