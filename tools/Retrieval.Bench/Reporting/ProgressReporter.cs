using System.Globalization;

namespace Retrieval.Bench.Reporting;

/// <summary>How progress is shown: rewriting one line in a terminal, occasional plain lines in a log, or not at all.</summary>
public enum ProgressMode
{
    /// <summary>stderr is a terminal: one line rewritten in place (carriage return), with rate and ETA.</summary>
    Terminal,
    /// <summary>stderr is a file or pipe: a plain line every <see cref="ProgressReporter.LineInterval"/>, no control characters.</summary>
    Lines,
    /// <summary>--quiet: nothing.</summary>
    Silent,
}

/// <summary>
/// Progress of long work (reading files, encoding, searching), written to stderr so stdout stays clean for
/// result lines. One task at a time: <see cref="Begin"/> a task with an optional total, <see cref="Report"/> or
/// <see cref="Advance"/> from any thread, <see cref="End"/> it. Updates are throttled (a terminal line at
/// most every 0.1 s, a log line every 5 s) so reporting from a hot loop costs a timestamp read.
/// </summary>
public sealed class ProgressReporter : IProgress<long>
{
    public static readonly TimeSpan TerminalInterval = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan LineInterval = TimeSpan.FromSeconds(5);

    private readonly TextWriter _output;
    private readonly TimeProvider _clock;
    private readonly object _gate = new();
    private string _label = "";
    private string _unit = "";
    private long? _total;
    private long _done;
    private long _startTimestamp;
    private long _lastWriteTimestamp;
    private int _lastLineLength;
    private bool _active;

    public ProgressReporter(TextWriter output, ProgressMode mode, TimeProvider? clock = null)
    {
        _output = output;
        Mode = mode;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>A reporter that shows nothing (library calls made without a user watching).</summary>
    public static ProgressReporter Silent { get; } = new(TextWriter.Null, ProgressMode.Silent);

    public ProgressMode Mode { get; }

    /// <summary>Picks the mode for stderr: Terminal when it is an interactive terminal, Lines when redirected.</summary>
    public static ProgressMode ModeFor(bool errorIsTerminal, bool quiet) =>
        quiet ? ProgressMode.Silent : errorIsTerminal ? ProgressMode.Terminal : ProgressMode.Lines;

    /// <summary>Starts a task; <paramref name="total"/> (in <paramref name="unit"/>) enables a percentage and ETA.</summary>
    public void Begin(string label, long? total = null, string unit = "items")
    {
        lock (_gate)
        {
            if (_active) FinishLine();
            _label = label;
            _unit = unit;
            _total = total;
            _done = 0;
            _startTimestamp = _clock.GetTimestamp();
            _lastWriteTimestamp = _startTimestamp;
            _active = true;
            if (Mode == ProgressMode.Lines) WriteLine($"{label}: started" + (total is { } t ? $" ({Count(t)} {unit})" : ""));
            else if (Mode == ProgressMode.Terminal) Rewrite(Status(_startTimestamp));
        }
    }

    /// <summary>Sets the amount done so far (absolute).</summary>
    public void Report(long value)
    {
        Interlocked.Exchange(ref _done, value);
        MaybeWrite();
    }

    /// <summary>Adds to the amount done (safe from many threads).</summary>
    public void Advance(long delta = 1)
    {
        Interlocked.Add(ref _done, delta);
        MaybeWrite();
    }

    /// <summary>Ends the task with a summary line (elapsed time and rate).</summary>
    public void End(string? summary = null)
    {
        lock (_gate)
        {
            if (!_active) return;
            long now = _clock.GetTimestamp();
            double seconds = _clock.GetElapsedTime(_startTimestamp, now).TotalSeconds;
            long done = Interlocked.Read(ref _done);
            string line = $"{_label}: done, {Count(done)} {_unit} in {Seconds(seconds)}" +
                          (seconds > 0 && done > 0 ? $" ({Rate(done / seconds)} {_unit}/s)" : "") +
                          (summary is null ? "" : $"; {summary}");
            _active = false;
            if (Mode == ProgressMode.Silent) return;
            if (Mode == ProgressMode.Terminal) ClearLine();
            WriteLine(line);
        }
    }

    /// <summary>A log message on its own line; a terminal progress line is cleared first and redrawn after.</summary>
    public void Log(string message)
    {
        if (Mode == ProgressMode.Silent) return;
        lock (_gate)
        {
            if (Mode == ProgressMode.Terminal && _active) ClearLine();
            WriteLine(message);
            if (Mode == ProgressMode.Terminal && _active) Rewrite(Status(_clock.GetTimestamp()));
        }
    }

    void IProgress<long>.Report(long value) => Report(value);

    private void MaybeWrite()
    {
        if (Mode == ProgressMode.Silent || !_active) return;
        long now = _clock.GetTimestamp();
        var interval = Mode == ProgressMode.Terminal ? TerminalInterval : LineInterval;
        if (_clock.GetElapsedTime(Volatile.Read(ref _lastWriteTimestamp), now) < interval) return;
        // Only one thread writes; the others carry on with their work instead of waiting on the console.
        if (!Monitor.TryEnter(_gate)) return;
        try
        {
            if (!_active || _clock.GetElapsedTime(_lastWriteTimestamp, now) < interval) return;
            _lastWriteTimestamp = now;
            if (Mode == ProgressMode.Terminal) Rewrite(Status(now));
            else WriteLine(Status(now));
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    private string Status(long now)
    {
        long done = Interlocked.Read(ref _done);
        double seconds = _clock.GetElapsedTime(_startTimestamp, now).TotalSeconds;
        double rate = seconds > 0 ? done / seconds : 0;
        var text = $"{_label}: {Count(done)}";
        if (_total is { } total && total > 0)
        {
            text += $"/{Count(total)} {_unit} ({100.0 * done / total:F1}%)";
            if (rate > 0 && done < total) text += $", {Rate(rate)} {_unit}/s, ETA {Seconds((total - done) / rate)}";
        }
        else
        {
            text += $" {_unit}";
            if (rate > 0) text += $", {Rate(rate)} {_unit}/s";
        }
        return text + $", {Seconds(seconds)} elapsed";
    }

    private void Rewrite(string text)
    {
        // Pad over the previous line's leftovers instead of relying on terminal escape sequences.
        int pad = Math.Max(0, _lastLineLength - text.Length);
        _output.Write("\r" + text + new string(' ', pad));
        _output.Flush();
        _lastLineLength = text.Length;
    }

    private void ClearLine()
    {
        if (_lastLineLength == 0) return;
        _output.Write("\r" + new string(' ', _lastLineLength) + "\r");
        _lastLineLength = 0;
    }

    private void FinishLine()
    {
        if (Mode == ProgressMode.Terminal) ClearLine();
        _active = false;
    }

    private void WriteLine(string text)
    {
        _output.WriteLine(text);
        _output.Flush();
    }

    private static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Rate(double perSecond) =>
        perSecond.ToString(perSecond >= 100 ? "N0" : "F1", CultureInfo.InvariantCulture);

    internal static string Seconds(double seconds)
    {
        if (seconds < 60) return seconds.ToString("F1", CultureInfo.InvariantCulture) + " s";
        var span = TimeSpan.FromSeconds(Math.Round(seconds));
        return span.TotalHours >= 1
            ? $"{(int)span.TotalHours}h{span.Minutes:D2}m{span.Seconds:D2}s"
            : $"{span.Minutes}m{span.Seconds:D2}s";
    }
}
