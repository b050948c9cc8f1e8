namespace Retrieval.Index.Seismic;

/// <summary>Where an opened Seismic index keeps its forward index (every document's full vector, read to score candidates exactly).</summary>
public enum ForwardIndexResidence
{
    /// <summary>Read into managed memory at open (the default; on 2 MiB pages where the OS allows).</summary>
    Memory,

    /// <summary>
    /// Mapped read-only from forward.bin and read in place: the rows are page cache (file-backed, reclaimable), not
    /// process heap, and cost no read at open beyond the checksum pass. Posting lists, summaries, offsets and the kNN
    /// graph stay in memory. Results are identical to <see cref="Memory"/>; a query touching rows not in the page
    /// cache waits for the disk. The index must be disposed to unmap.
    /// </summary>
    MemoryMapped,
}

/// <summary>How <see cref="SeismicIndex.Open(string, SeismicOpenOptions?)"/> holds an index.</summary>
public sealed record SeismicOpenOptions
{
    public static SeismicOpenOptions Default { get; } = new();

    /// <summary>Memory-mapped forward index, the rest in memory.</summary>
    public static SeismicOpenOptions MappedForward { get; } = new() { ForwardIndex = ForwardIndexResidence.MemoryMapped };

    public ForwardIndexResidence ForwardIndex { get; init; } = ForwardIndexResidence.Memory;

    /// <summary>"memory" or "mapped" (CLI and report spelling).</summary>
    public static string ResidenceName(ForwardIndexResidence residence) => residence switch
    {
        ForwardIndexResidence.Memory => "memory",
        ForwardIndexResidence.MemoryMapped => "mapped",
        _ => throw new ArgumentOutOfRangeException(nameof(residence), residence, null),
    };

    /// <summary>Parses <see cref="ResidenceName"/>'s spelling ("mmap" too); FormatException otherwise.</summary>
    public static ForwardIndexResidence ParseResidence(string name) => name.Trim().ToLowerInvariant() switch
    {
        "memory" => ForwardIndexResidence.Memory,
        "mapped" or "mmap" or "memory-mapped" => ForwardIndexResidence.MemoryMapped,
        _ => throw new FormatException($"'{name}' is not a forward index residence: expected memory or mapped"),
    };
}
