using Retrieval.Bench.Datasets;
using Retrieval.Bench.Evaluation;
using Retrieval.Bench.Reporting;

namespace Retrieval.Cli.Hosting;

/// <summary>
/// Shows a library's staged progress (a recipe's download / parse / embed, an evaluation's encode / search) as
/// one progress task per stage.
/// </summary>
public sealed class StageProgress(ProgressReporter reporter) : IProgress<PrepareProgress>, IProgress<EvaluationProgress>
{
    private readonly object _gate = new();
    private string? _stage;

    public void Report(PrepareProgress value) => Report(value.Stage, value.Done, value.Total, value.Unit);

    public void Report(EvaluationProgress value) => Report(value.Stage, value.Done, value.Total, "items");

    private void Report(string stage, long done, long total, string unit)
    {
        lock (_gate)
        {
            if (stage != _stage)
            {
                if (_stage is not null) reporter.End();
                _stage = stage;
                reporter.Begin(stage, total > 0 ? total : null, unit);
            }
        }
        reporter.Report(done);
    }

    /// <summary>Ends the last stage's line.</summary>
    public void Finish()
    {
        lock (_gate)
        {
            if (_stage is not null) reporter.End();
            _stage = null;
        }
    }
}
