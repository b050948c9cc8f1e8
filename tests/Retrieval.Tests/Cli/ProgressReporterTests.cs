using Retrieval.Bench.Reporting;

namespace Retrieval.Tests.Cli;

public class ProgressReporterTests
{
    /// <summary>A clock the test moves by hand, so throttling is checked without sleeping.</summary>
    private sealed class ManualClock : TimeProvider
    {
        public long Ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Ticks;
        public void Advance(TimeSpan by) => Ticks += by.Ticks;
    }

    [Fact]
    public void TerminalModeRewritesOneLineWithRateAndEta()
    {
        var clock = new ManualClock();
        var output = new StringWriter();
        var progress = new ProgressReporter(output, ProgressMode.Terminal, clock);

        progress.Begin("searching", total: 1000, unit: "queries");
        clock.Advance(TimeSpan.FromSeconds(1));
        progress.Report(250);
        progress.End();

        var text = output.ToString();
        Assert.Contains("\r", text);
        Assert.Contains("250/1,000 queries (25.0%)", text);
        Assert.Contains("250 queries/s", text);
        Assert.Contains("ETA 3.0 s", text);
        Assert.EndsWith("\n", text);
        Assert.Contains("searching: done, 250 queries", text);
    }

    [Fact]
    public void LineModeWritesPlainThrottledLines()
    {
        var clock = new ManualClock();
        var output = new StringWriter();
        var progress = new ProgressReporter(output, ProgressMode.Lines, clock);

        progress.Begin("encoding", total: 100);
        for (int i = 1; i <= 100; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100)); // 10 s in all: two interval lines at most
            progress.Report(i);
        }
        progress.End();

        var text = output.ToString();
        Assert.DoesNotContain("\r", text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(lines.Length, 3, 5); // started, one or two updates, done
        Assert.StartsWith("encoding: started", lines[0]);
        Assert.StartsWith("encoding: done, 100 items", lines[^1]);
    }

    [Fact]
    public void SilentModeWritesNothing()
    {
        var output = new StringWriter();
        var progress = new ProgressReporter(output, ProgressMode.Silent);

        progress.Begin("x", 10);
        progress.Advance(5);
        progress.Log("hello");
        progress.End();

        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void ModeFollowsTerminalAndQuietFlags()
    {
        Assert.Equal(ProgressMode.Terminal, ProgressReporter.ModeFor(errorIsTerminal: true, quiet: false));
        Assert.Equal(ProgressMode.Lines, ProgressReporter.ModeFor(errorIsTerminal: false, quiet: false));
        Assert.Equal(ProgressMode.Silent, ProgressReporter.ModeFor(errorIsTerminal: true, quiet: true));
    }
}
