using Retrieval.Bench.Reporting;

namespace Retrieval.Cli.Hosting;

/// <summary>
/// Library status messages as stderr log lines, written synchronously (System.Progress would post them to the
/// thread pool, so they could arrive after the step they announce).
/// </summary>
public sealed class LogProgress(ProgressReporter reporter) : IProgress<string>
{
    public void Report(string value) => reporter.Log(value);
}
