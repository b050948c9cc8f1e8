using System.CommandLine;
using System.CommandLine.Invocation;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;

namespace Retrieval.Cli;

/// <summary>
/// Runs one command line and maps its outcome to an exit code: 0 success, 1 a RetrievalException (the
/// engine's own, explained error: "error: message", no stack trace), 2 a usage error, 3 anything else (a bug:
/// printed with its stack trace). Tests call <see cref="Run"/> in-process with string writers.
/// </summary>
public static class Cli
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool errorIsTerminal = false)
    {
        var host = new CliHost(stdout, stderr, errorIsTerminal);
        var root = Program.BuildRootCommand(host);
        var parse = root.Parse(args);

        // The parser's own error action exits with 1; usage errors are 2 here so scripts can tell a typo
        // from bad data. Help and --version clear parse errors and go through the normal invocation.
        if (parse.Action is ParseErrorAction)
        {
            foreach (var error in parse.Errors) stderr.WriteLine($"error: {error.Message}");
            stderr.WriteLine($"Run '{CommandPath(parse)} --help' for usage.");
            return ExitCodes.Usage;
        }

        var config = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
        };
        try
        {
            return parse.Invoke(config);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine($"Run '{CommandPath(parse)} --help' for usage.");
            return ExitCodes.Usage;
        }
        catch (RetrievalException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"internal error (a bug; please report it with this trace): {e}");
            return ExitCodes.Crashed;
        }
        finally
        {
            stdout.Flush();
            stderr.Flush();
        }
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            names.Add(result.Command.Name);
        names.Reverse();
        if (names.Count > 0) names[0] = "retrieval";
        return string.Join(' ', names);
    }
}
