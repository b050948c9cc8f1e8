using Retrieval.Index.Storage;

namespace Retrieval.Index.Spann;

/// <summary>
/// postings.bin and vectors.bin of one open index, reached per <see cref="PostingIoMode"/>: a posting store and a
/// full-vector reader for each mode, opened (or, in memory mode, loaded) on first use and shared by all searches;
/// the read threads of the disk modes are owned here too.
/// </summary>
internal sealed unsafe class SpannDataFiles : IDisposable
{
    private readonly string _postingsPath;
    private readonly string? _fullPath;
    private readonly PostingDirectory _postings;
    private readonly Lock _storeLock = new();
    private IPostingStore? _buffered, _direct, _memory;
    private DirectFileReader? _fullBuffered, _fullDirect;
    private AlignedBuffer? _fullMemory;
    private ReadWorkers? _readWorkers;

    public SpannDataFiles(string postingsPath, string? fullVectorsPath, long fullVectorsDataOffset, PostingDirectory postings)
    {
        _postingsPath = postingsPath;
        _fullPath = fullVectorsPath;
        FullVectorsDataOffset = fullVectorsDataOffset;
        _postings = postings;
    }

    /// <summary>File offset of row 0 in vectors.bin.</summary>
    public long FullVectorsDataOffset { get; }

    /// <summary>Postings and full vectors loaded by in-memory mode.</summary>
    public long ResidentBytes => (_memory?.ResidentBytes ?? 0) + (_fullMemory?.Length ?? 0);

    public long BytesRead => (_buffered?.BytesRead ?? 0) + (_direct?.BytesRead ?? 0) + (_fullBuffered?.BytesRead ?? 0) + (_fullDirect?.BytesRead ?? 0);
    public long ReadCount => (_buffered?.ReadCount ?? 0) + (_direct?.ReadCount ?? 0) + (_fullBuffered?.ReadCount ?? 0) + (_fullDirect?.ReadCount ?? 0);

    /// <summary>The whole of vectors.bin in memory (after <see cref="Store"/> in memory mode).</summary>
    public byte* FullMemory => _fullMemory!.Pointer;

    /// <summary>The vectors.bin reader of a disk mode (after <see cref="Store"/> in that mode).</summary>
    public DirectFileReader FullReader(PostingIoMode mode) => mode == PostingIoMode.Direct ? _fullDirect! : _fullBuffered!;

    /// <summary>The read threads of the disk modes (after <see cref="Store"/> in one of them).</summary>
    public ReadWorkers ReadWorkers => _readWorkers!;

    public IPostingStore Store(PostingIoMode mode)
    {
        var store = mode switch { PostingIoMode.Direct => _direct, PostingIoMode.Memory => _memory, _ => _buffered };
        if (store is not null) return store;
        lock (_storeLock)
        {
            if (mode != PostingIoMode.Memory) _readWorkers ??= new ReadWorkers();
            switch (mode)
            {
                case PostingIoMode.Direct:
                    _direct ??= new DiskPostingStore(_postingsPath, _postings, direct: true, _readWorkers!);
                    if (_fullPath is not null) _fullDirect ??= new DirectFileReader(_fullPath, direct: true);
                    return _direct;
                case PostingIoMode.Memory:
                    if (_fullPath is not null && _fullMemory is null)
                    {
                        using var reader = new DirectFileReader(_fullPath, direct: false);
                        var buffer = new AlignedBuffer(reader.Length);
                        reader.ReadExactly(buffer.Span, 0);
                        _fullMemory = buffer;
                    }
                    _memory ??= new MemoryPostingStore(_postingsPath, _postings);
                    return _memory;
                default:
                    _buffered ??= new DiskPostingStore(_postingsPath, _postings, direct: false, _readWorkers!);
                    if (_fullPath is not null) _fullBuffered ??= new DirectFileReader(_fullPath, direct: false);
                    return _buffered;
            }
        }
    }

    public void Dispose()
    {
        _buffered?.Dispose();
        _direct?.Dispose();
        _memory?.Dispose();
        _fullBuffered?.Dispose();
        _fullDirect?.Dispose();
        (_fullMemory as IDisposable)?.Dispose();
    }

    /// <summary>Stops the read threads; after the searchers are disposed (their batches may still hold work items).</summary>
    public void DisposeReadWorkers() => _readWorkers?.Dispose();
}
