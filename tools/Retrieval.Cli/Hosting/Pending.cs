using System.CommandLine;
using Retrieval.Index.Errors;

namespace Retrieval.Cli.Hosting;

// TEMPORARY: removed once every command is wired to its library API.
internal static class Pending
{
    public static Func<ParseResult, int> Action(string what) =>
        _ => throw new RetrievalException(ErrorKind.Internal, what + " is not wired yet");
}
