using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Retrieval.Index.Attention;

/// <summary>
/// Node-major storage of one KV head: one 64-byte aligned record per position holding the key (d floats, padded
/// to whole cache lines) followed by one adjacency slot per attached query-head graph (M neighbour ids, padded to
/// whole lines; entries past the node's degree are -1). A graph search that scores a key finds the neighbour list
/// it expands next to it, and the key is stored once however many query heads of the GQA group have a graph.
/// The memory is a pinned (never moving) array; it is replaced when the block grows (append past capacity) or a
/// graph slot is added, so raw <see cref="Rows"/> are valid only until the next write, which the owner serialises.
/// </summary>
internal sealed unsafe class NodeBlock
{
    private const int Line = 64;

    private readonly List<Slot> _slots = [];
    private byte[] _memory = [];
    private byte* _base;

    private sealed class Slot(int offsetBytes, int connectivity)
    {
        public readonly int OffsetBytes = offsetBytes;
        public readonly int Connectivity = connectivity;
        public bool InUse = true;
    }

    public NodeBlock(int dimension, int capacity)
    {
        Dimension = dimension;
        KeyStrideBytes = AlignLine(dimension * sizeof(float));
        StrideBytes = KeyStrideBytes;
        Relayout(Math.Max(1, capacity), StrideBytes);
    }

    public int Dimension { get; }

    /// <summary>Bytes of a key's part of a record (d floats rounded up to whole cache lines).</summary>
    public int KeyStrideBytes { get; }

    /// <summary>Bytes per record: key plus every graph slot.</summary>
    public int StrideBytes { get; private set; }

    /// <summary>Records allocated (positions held without reallocating).</summary>
    public int Capacity { get; private set; }

    /// <summary>Bytes of the key parts of all records.</summary>
    public long KeyBytes => (long)Capacity * KeyStrideBytes;

    public long MaxRows => (Array.MaxLength - Line) / StrideBytes;

    public bool CanHold(long rows) => rows <= MaxRows;

    public KeyRows Rows => new(_base, StrideBytes, Dimension);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<float> Key(int position) => new(_base + (nint)position * StrideBytes, Dimension);

    /// <summary>Start of record 0 (moves when the block is re-laid out).</summary>
    public byte* Base => _base;

    /// <summary>Byte offset of a graph slot inside every record (fixed for the slot's life).</summary>
    public int SlotOffset(int slot) => _slots[slot].OffsetBytes;

    /// <summary>Bytes one slot takes over all records.</summary>
    public long SlotBytes(int slot) => (long)Capacity * AlignLine(_slots[slot].Connectivity * sizeof(int));

    /// <summary>Copies rows of keys into records [first, first + rows), growing the block by doubling if needed.</summary>
    public void AppendKeys(ReadOnlySpan<float> keys, int first, int rows)
    {
        long needed = (long)first + rows;
        if (needed > Capacity) Relayout((int)Math.Min(MaxRows, Math.Max(needed, 2L * Capacity)), StrideBytes);
        for (int i = 0; i < rows; i++)
            keys.Slice(i * Dimension, Dimension).CopyTo(new Span<float>(_base + (nint)(first + i) * StrideBytes, Dimension));
    }

    /// <summary>
    /// A slot for one more graph of out-degree <paramref name="connectivity"/>: a released slot of the same degree
    /// when there is one (reset to empty lists), else a new one appended to every record (the block is re-laid out).
    /// </summary>
    public int AttachSlot(int connectivity)
    {
        for (int s = 0; s < _slots.Count; s++)
        {
            var slot = _slots[s];
            if (slot.InUse || slot.Connectivity != connectivity) continue;
            slot.InUse = true;
            int slotBytes = AlignLine(connectivity * sizeof(int));
            for (int p = 0; p < Capacity; p++)
                new Span<byte>(_base + (nint)p * StrideBytes + slot.OffsetBytes, slotBytes).Fill(0xFF);
            return s;
        }
        int offset = StrideBytes;
        int newStride = checked(StrideBytes + AlignLine(connectivity * sizeof(int)));
        if ((long)Capacity * newStride + Line > Array.MaxLength)
            throw new Errors.RetrievalException(Errors.ErrorKind.ResourceExhausted,
                $"a KV head of {Capacity} positions cannot hold one more graph of out-degree {connectivity} (records of {newStride} bytes)");
        Relayout(Capacity, newStride);
        _slots.Add(new Slot(offset, connectivity));
        return _slots.Count - 1;
    }

    /// <summary>Gives a slot back for reuse by a later graph of the same out-degree.</summary>
    public void ReleaseSlot(int slot) => _slots[slot].InUse = false;

    private void Relayout(int capacity, int stride)
    {
        long bytes = (long)capacity * stride;
        var memory = GC.AllocateUninitializedArray<byte>(checked((int)(bytes + Line)), pinned: true);
        byte* start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(memory));
        byte* aligned = (byte*)(((nint)start + Line - 1) & ~(nint)(Line - 1));
        int oldStride = StrideBytes, oldCapacity = _memory.Length == 0 ? 0 : Capacity;
        for (int p = 0; p < capacity; p++)
        {
            byte* record = aligned + (nint)p * stride;
            int copied = 0;
            if (p < oldCapacity)
            {
                new ReadOnlySpan<byte>(_base + (nint)p * oldStride, oldStride).CopyTo(new Span<byte>(record, oldStride));
                copied = oldStride;
            }
            else
            {
                new Span<byte>(record, KeyStrideBytes).Clear();
                copied = KeyStrideBytes;
            }
            // Graph slots start empty: every neighbour entry -1.
            new Span<byte>(record + copied, stride - copied).Fill(0xFF);
        }
        _memory = memory;
        _base = aligned;
        StrideBytes = stride;
        Capacity = capacity;
    }

    private static int AlignLine(int bytes) => (bytes + Line - 1) & ~(Line - 1);
}

/// <summary>Raw key rows: row p starts at base + p x stride bytes (d floats, 64-byte aligned).</summary>
internal readonly unsafe struct KeyRows(byte* rowBase, int strideBytes, int dimension)
{
    private readonly nint _base = (nint)rowBase;
    public readonly int StrideBytes = strideBytes;
    public readonly int Dimension = dimension;

    public byte* Base => (byte*)_base;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Row(int position) => (float*)(_base + (nint)position * StrideBytes);
}

/// <summary>Raw adjacency rows of one graph: node u's M neighbour ids start at base + u x stride bytes.</summary>
internal readonly unsafe struct AdjacencyRows(byte* rowBase, int strideBytes)
{
    private readonly nint _base = (nint)rowBase;
    public readonly int StrideBytes = strideBytes;

    public byte* Base => (byte*)_base;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int* Row(int node) => (int*)(_base + (nint)node * StrideBytes);
}
