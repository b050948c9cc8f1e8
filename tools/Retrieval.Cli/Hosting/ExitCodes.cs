namespace Retrieval.Cli.Hosting;

/// <summary>Process exit codes of `retrieval`; scripts rely on them.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The engine refused the input (RetrievalException): bad data, missing file, bad k.</summary>
    public const int Failed = 1;
    /// <summary>The command line could not be understood: unknown option, missing value, conflicting options.</summary>
    public const int Usage = 2;
    /// <summary>Anything else: a bug. The stack trace is printed.</summary>
    public const int Crashed = 3;
}
