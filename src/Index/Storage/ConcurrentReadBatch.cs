using System.Runtime.ExceptionServices;

namespace Retrieval.Index.Storage;

/// <summary>
/// One batch of positional reads issued together so the device sees them concurrently (SPANN's "read all
/// surviving postings at once"), consumed in issue order as each one lands. Reads run as pre-allocated
/// thread-pool work items doing blocking pread (what .NET's own async file I/O does on Linux); the consuming
/// thread also claims any read no worker has started yet, so a busy pool never stalls a query. Reusable across
/// queries without allocation: slots, events and work items are created once per capacity.
/// Single consumer: one batch belongs to one searching thread.
/// </summary>
internal sealed class ConcurrentReadBatch : IDisposable
{
    private const int Pending = 0, Claimed = 1, Done = 2;

    private readonly Slot[] _slots;
    private readonly Action<IThreadPoolWorkItem>? _dispatch;
    private DirectFileReader? _file;
    private int _count;

    /// <param name="capacity">Most reads per batch.</param>
    /// <param name="dispatch">Runs a read's work item; null queues it to the .NET thread pool. An owner with its
    /// own blocking-I/O threads passes them here, so pread never occupies (or forces the growth of) the shared pool.</param>
    public ConcurrentReadBatch(int capacity, Action<IThreadPoolWorkItem>? dispatch = null)
    {
        _dispatch = dispatch;
        _slots = new Slot[capacity];
        for (int i = 0; i < capacity; i++) _slots[i] = new Slot(this);
    }

    public int Capacity => _slots.Length;

    /// <summary>Starts a new batch reading from <paramref name="file"/>.</summary>
    public void Begin(DirectFileReader file)
    {
        _file = file;
        _count = 0;
    }

    /// <summary>Adds one read into <paramref name="destination"/> (aligned memory the caller keeps alive until consumed).</summary>
    public unsafe void Add(byte* destination, int length, long offset)
    {
        var slot = _slots[_count++];
        // A work item queued by an earlier batch may still be in a worker's queue and run at any moment: it claims
        // the slot as soon as State says Pending. So everything it reads, and the reset event, must be ready before
        // State is published; resetting the event afterwards could erase its Set and leave WaitFor asleep forever.
        slot.Destination = destination;
        slot.Length = length;
        slot.Offset = offset;
        slot.Error = null;
        slot.Completed.Reset();
        Volatile.Write(ref slot.State, Pending);
    }

    /// <summary>Queues every read but the first to the pool; the caller will do the first itself.</summary>
    public void Issue()
    {
        if (_dispatch is { } dispatch)
            for (int i = 1; i < _count; i++) dispatch(_slots[i]);
        else
            for (int i = 1; i < _count; i++) ThreadPool.UnsafeQueueUserWorkItem(_slots[i], preferLocal: false);
    }

    /// <summary>Waits until read <paramref name="index"/> has landed (doing it on this thread if no worker started it).</summary>
    public void WaitFor(int index)
    {
        var slot = _slots[index];
        if (Interlocked.CompareExchange(ref slot.State, Claimed, Pending) == Pending) slot.Run();
        else slot.Completed.Wait();
        if (slot.Error is { } error) ExceptionDispatchInfo.Throw(error);
    }

    /// <summary>Before reusing destinations: every issued read must be finished (a failed query may leave some running).</summary>
    public void Drain()
    {
        for (int i = 0; i < _count; i++)
        {
            var slot = _slots[i];
            if (Interlocked.CompareExchange(ref slot.State, Claimed, Pending) == Pending)
            {
                slot.State = Done;
                slot.Completed.Set();
            }
            else slot.Completed.Wait();
        }
        _count = 0;
    }

    public void Dispose()
    {
        Drain();
        foreach (var slot in _slots) slot.Completed.Dispose();
    }

    private sealed unsafe class Slot(ConcurrentReadBatch owner) : IThreadPoolWorkItem
    {
        public readonly ManualResetEventSlim Completed = new(false, spinCount: 0);
        public byte* Destination;
        public int Length;
        public long Offset;
        public int State;
        public Exception? Error;

        public void Execute()
        {
            if (Interlocked.CompareExchange(ref State, Claimed, Pending) != Pending) return;
            Run();
        }

        public void Run()
        {
            try
            {
                owner._file!.ReadExactly(new Span<byte>(Destination, Length), Offset);
            }
            catch (Exception e)
            {
                Error = e;
            }
            Volatile.Write(ref State, Done);
            Completed.Set();
        }
    }
}
