namespace Retrieval.Cli.Hosting;

/// <summary>
/// The command line itself is wrong in a way the parser cannot see (two options that exclude each other,
/// a required choice missing). Exit code 2, like a parse error, with the command's --help as the remedy.
/// </summary>
public sealed class UsageException(string message) : Exception(message);
