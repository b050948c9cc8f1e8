namespace Retrieval.Index.Spann;

/// <summary>
/// SPFresh's version map: one byte per vector id, a 7-bit version and a deleted bit. A posting entry is live only
/// while its stored version equals the map's byte (deleted bit clear), so bumping the version kills every old copy
/// of the vector at once and deleting it kills them all without touching a posting. Stored in 64 KiB chunks that are
/// never reallocated, so a compare-and-swap on a byte never races with growth. Ids never inserted read as deleted.
/// </summary>
internal sealed class VersionMap
{
    public const byte Deleted = 0x80;
    public const byte VersionMask = 0x7F;
    private const int ChunkBits = 16;
    private const int ChunkSize = 1 << ChunkBits;
    private readonly byte[]?[] _chunks = new byte[]?[(int.MaxValue >> ChunkBits) + 1];
    private readonly Lock _grow = new();
    private int _liveCount;
    private int _capacity;

    /// <summary>Ids below this may have entries (one past the largest id ever touched, rounded to a chunk).</summary>
    public int Capacity => Volatile.Read(ref _capacity);

    public int LiveCount => Volatile.Read(ref _liveCount);

    public byte Get(int id)
    {
        var chunk = _chunks[id >> ChunkBits];
        return chunk is null ? Deleted : Volatile.Read(ref chunk[id & (ChunkSize - 1)]);
    }

    /// <summary>True when an entry written with <paramref name="version"/> is the current, live copy of <paramref name="id"/>.</summary>
    public bool IsCurrent(int id, byte version) => Get(id) == version;

    /// <summary>Makes <paramref name="id"/> live under a version one above its last (7 bits, wrapping); returns the new version.</summary>
    public byte Bump(int id)
    {
        ref byte slot = ref Slot(id);
        while (true)
        {
            byte old = Volatile.Read(ref slot);
            byte next = (byte)((old + 1) & VersionMask);
            if (Interlocked.CompareExchange(ref slot, next, old) != old) continue;
            if ((old & Deleted) != 0) Interlocked.Increment(ref _liveCount);
            return next;
        }
    }

    /// <summary>The compare-and-swap of a reassign move: bumps the version only if it is still <paramref name="expected"/>.</summary>
    public bool TryBump(int id, byte expected, out byte next)
    {
        next = (byte)((expected + 1) & VersionMask);
        if ((expected & Deleted) != 0) return false;
        return Interlocked.CompareExchange(ref Slot(id), next, expected) == expected;
    }

    /// <summary>Sets the deleted bit (the version stays, so a later insert goes above it); false if it was not live.</summary>
    public bool Delete(int id)
    {
        var chunk = _chunks[id >> ChunkBits];
        if (chunk is null) return false;
        ref byte slot = ref chunk[id & (ChunkSize - 1)];
        while (true)
        {
            byte old = Volatile.Read(ref slot);
            if ((old & Deleted) != 0) return false;
            if (Interlocked.CompareExchange(ref slot, (byte)(old | Deleted), old) != old) continue;
            Interlocked.Decrement(ref _liveCount);
            return true;
        }
    }

    /// <summary>Sets an entry while loading (no concurrency).</summary>
    public void Load(int id, byte value)
    {
        ref byte slot = ref Slot(id);
        if ((slot & Deleted) != 0 && (value & Deleted) == 0) _liveCount++;
        else if ((slot & Deleted) == 0 && (value & Deleted) != 0) _liveCount--;
        slot = value;
    }

    /// <summary>The first <see cref="Capacity"/> bytes, for a checkpoint (taken while no update runs).</summary>
    public byte[] Copy()
    {
        int n = Capacity;
        var bytes = new byte[n];
        for (int c = 0; c * ChunkSize < n; c++)
        {
            var chunk = _chunks[c];
            var target = bytes.AsSpan(c * ChunkSize, Math.Min(ChunkSize, n - c * ChunkSize));
            if (chunk is null) target.Fill(Deleted);
            else chunk.AsSpan(0, target.Length).CopyTo(target);
        }
        return bytes;
    }

    public long ResidentBytes
    {
        get
        {
            long n = 0;
            for (int c = 0; c * (long)ChunkSize < Capacity; c++) if (_chunks[c] is not null) n += ChunkSize;
            return n;
        }
    }

    private ref byte Slot(int id)
    {
        int c = id >> ChunkBits;
        var chunk = Volatile.Read(ref _chunks[c]);
        if (chunk is null)
        {
            lock (_grow)
            {
                chunk = _chunks[c];
                if (chunk is null)
                {
                    chunk = new byte[ChunkSize];
                    Array.Fill(chunk, Deleted);
                    Volatile.Write(ref _chunks[c], chunk);
                }
                int end = (int)Math.Min(int.MaxValue, (long)(c + 1) * ChunkSize);
                if (end > _capacity) Volatile.Write(ref _capacity, end);
            }
        }
        return ref chunk[id & (ChunkSize - 1)];
    }
}
