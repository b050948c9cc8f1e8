using System.Collections.Concurrent;

namespace Retrieval.Index.Spann;

/// <summary>
/// A small set of dedicated threads that run blocking positional reads for one posting store. Blocking pread on
/// the shared .NET pool would either run a query's reads a core's worth at a time or need the process-wide pool
/// minimum raised (what this replaces); these threads are the store's own, sleep when idle and end with it.
/// The query thread also claims reads no worker has started (<see cref="Storage.ConcurrentReadBatch"/>), so a
/// busy set never stalls a query.
/// </summary>
internal sealed class ReadWorkers : IDisposable
{
    /// <summary>Reads in flight at once: queue depth for an SSD, independent of the core count.</summary>
    public const int DefaultThreadCount = 32;

    private readonly ConcurrentQueue<IThreadPoolWorkItem> _queue = new();
    private readonly SemaphoreSlim _ready = new(0);
    private readonly Thread[] _threads;
    private volatile bool _stopping;

    public ReadWorkers(int threadCount = DefaultThreadCount, string name = "spann-read")
    {
        if (threadCount < 1) throw new ArgumentOutOfRangeException(nameof(threadCount), threadCount, "at least one read thread");
        _threads = new Thread[threadCount];
        for (int i = 0; i < threadCount; i++)
        {
            // Small stacks: a read thread only calls pread.
            _threads[i] = new Thread(Loop, 256 * 1024) { IsBackground = true, Name = $"{name}-{i}" };
            _threads[i].Start();
        }
        Dispatch = Enqueue;
    }

    public int ThreadCount => _threads.Length;

    /// <summary>The delegate handed to <see cref="Storage.ConcurrentReadBatch"/> (cached: no allocation per read).</summary>
    public Action<IThreadPoolWorkItem> Dispatch { get; }

    private void Enqueue(IThreadPoolWorkItem item)
    {
        _queue.Enqueue(item);
        _ready.Release();
    }

    private void Loop()
    {
        while (true)
        {
            _ready.Wait();
            if (_stopping) return;
            if (_queue.TryDequeue(out var item)) item.Execute();
        }
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _ready.Release(_threads.Length);
        foreach (var t in _threads) t.Join();
        _ready.Dispose();
    }
}
