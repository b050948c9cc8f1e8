using Retrieval.Index.Errors;

namespace Retrieval.Index.Spann;

/// <summary>What the rebuilder does to a posting (or, for <see cref="RebuildGraph"/>, to the head graph).</summary>
internal enum RebuildKind
{
    Split,
    Merge,
    RebuildGraph,
}

internal readonly record struct RebuildJob(RebuildKind Kind, int Head);

/// <summary>
/// SPFresh's background rebuilder: foreground updates only append and queue jobs here; a small pool of threads runs
/// them (splits, merges and their reassigns, graph rebuilds). A job already queued is not queued twice. The first
/// failure of a job is kept and thrown by <see cref="WaitForIdle"/>, so a bug surfaces instead of vanishing on a
/// background thread.
/// </summary>
internal sealed class BackgroundRebuilder : IDisposable
{
    private readonly Queue<RebuildJob> _queue = new();
    private readonly HashSet<RebuildJob> _queued = [];
    private readonly object _lock = new();
    private readonly Thread[] _threads;
    private readonly Action<RebuildJob> _run;
    private int _running;
    private bool _stopping;
    private Exception? _failure;

    public BackgroundRebuilder(int threads, Action<RebuildJob> run)
    {
        _run = run;
        _threads = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Loop) { IsBackground = true, Name = $"spfresh-rebuilder-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>Jobs queued or running.</summary>
    public int Pending
    {
        get { lock (_lock) return _queue.Count + _running; }
    }

    public void Enqueue(RebuildKind kind, int head)
    {
        var job = new RebuildJob(kind, head);
        lock (_lock)
        {
            if (_stopping || !_queued.Add(job)) return;
            _queue.Enqueue(job);
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Blocks until no job is queued or running (jobs queued by running jobs included).</summary>
    public void WaitForIdle()
    {
        lock (_lock)
        {
            while ((_queue.Count > 0 || _running > 0) && _failure is null) Monitor.Wait(_lock);
            if (_failure is not null)
                throw new RetrievalException(ErrorKind.Internal, $"a background rebuild job failed: {_failure.Message}", _failure);
        }
    }

    private void Loop()
    {
        while (true)
        {
            RebuildJob job;
            lock (_lock)
            {
                while (_queue.Count == 0 && !_stopping) Monitor.Wait(_lock);
                if (_stopping) return;
                job = _queue.Dequeue();
                _queued.Remove(job);
                _running++;
            }
            try
            {
                _run(job);
            }
            catch (Exception e)
            {
                lock (_lock) _failure ??= e;
            }
            finally
            {
                lock (_lock)
                {
                    _running--;
                    Monitor.PulseAll(_lock);
                }
            }
        }
    }

    /// <summary>Stops after the running jobs; queued ones are dropped (their work was never promised durable).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _stopping = true;
            _queue.Clear();
            _queued.Clear();
            Monitor.PulseAll(_lock);
        }
        foreach (var t in _threads) t.Join();
    }
}
