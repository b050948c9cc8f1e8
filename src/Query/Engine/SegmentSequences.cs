namespace Retrieval.Query.Engine;

/// <summary>
/// The sequence numbers that name a collection's segment directories: hands out new ones and remembers which are in
/// use (a live segment, or one being built), so a checkpoint deletes only the directories nothing needs.
/// </summary>
internal sealed class SegmentSequences
{
    private readonly HashSet<int> _reserved = [];
    private int _next;

    public int Allocate()
    {
        lock (_reserved)
        {
            int sequence = _next++;
            _reserved.Add(sequence);
            return sequence;
        }
    }

    public void Reserve(int sequence)
    {
        lock (_reserved) _reserved.Add(sequence);
    }

    public void Release(int sequence)
    {
        if (sequence < 0) return;
        lock (_reserved) _reserved.Remove(sequence);
    }

    public bool IsReserved(int sequence)
    {
        lock (_reserved) return _reserved.Contains(sequence);
    }

    /// <summary>Makes the next allocation at least <paramref name="next"/> (one past the highest directory found on disk).</summary>
    public void AdvanceTo(int next)
    {
        lock (_reserved) _next = Math.Max(_next, next);
    }
}
