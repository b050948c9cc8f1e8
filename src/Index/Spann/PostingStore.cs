using Retrieval.Index.Storage;

namespace Retrieval.Index.Spann;

/// <summary>
/// Where posting bytes come from at query time (FAISS's InvertedLists, for SPANN): one interface for postings in
/// RAM and postings on disk. A query hands over all its postings at once (<see cref="Begin"/>), then takes
/// them in order (<see cref="Get"/>) as they become available, and always ends the batch (<see cref="End"/>).
/// </summary>
internal interface IPostingStore : IDisposable
{
    void Begin(ReadOnlySpan<int> postings, SpannSearcher searcher);
    ReadOnlySpan<byte> Get(int index, SpannSearcher searcher);
    void End(SpannSearcher searcher);
    long BytesRead { get; }
    long ReadCount { get; }
    /// <summary>Bytes this store keeps in memory.</summary>
    long ResidentBytes { get; }
}

/// <summary>The whole posting file in (page-aligned) memory: no reads at query time.</summary>
internal sealed unsafe class MemoryPostingStore : IPostingStore
{
    private readonly AlignedBuffer _file;
    private readonly PostingDirectory _directory;

    public MemoryPostingStore(string path, PostingDirectory directory)
    {
        _directory = directory;
        using var reader = new DirectFileReader(path, direct: false);
        _file = new AlignedBuffer(reader.Length);
        const int Chunk = 64 << 20;
        for (long at = 0; at < reader.Length; at += Chunk)
            reader.ReadExactly(_file.Span.Slice((int)at, (int)Math.Min(Chunk, reader.Length - at)), at);
    }

    public long BytesRead => 0;
    public long ReadCount => 0;
    public long ResidentBytes => _file.Length;

    public void Begin(ReadOnlySpan<int> postings, SpannSearcher searcher) => searcher.SetBatch(postings);

    public ReadOnlySpan<byte> Get(int index, SpannSearcher searcher)
    {
        int p = searcher.Batch[index];
        return new ReadOnlySpan<byte>(_file.Pointer + _directory.Offsets[p], _directory.Pages[p] * PostingLayout.PageBytes);
    }

    public void End(SpannSearcher searcher) { }

    public void Dispose() => ((IDisposable)_file).Dispose();
}

/// <summary>
/// Postings read from postings.bin per query, through the page cache or with O_DIRECT: every posting of a query
/// is one read, all issued together (<see cref="ConcurrentReadBatch"/>) into the searcher's aligned buffer.
/// </summary>
internal sealed unsafe class DiskPostingStore : IPostingStore
{
    private readonly DirectFileReader _file;
    private readonly PostingDirectory _directory;
    private readonly ReadWorkers _workers;

    /// <param name="workers">Threads that run the blocking reads (owned by the caller, shared by its stores), so a
    /// batch is in flight at once (SSDs need depth) without touching the process-wide thread pool.</param>
    public DiskPostingStore(string path, PostingDirectory directory, bool direct, ReadWorkers workers)
    {
        _directory = directory;
        _workers = workers;
        _file = new DirectFileReader(path, direct);
    }

    public bool Direct => _file.Direct;
    public long BytesRead => _file.BytesRead;
    public long ReadCount => _file.ReadCount;
    public long ResidentBytes => 0;

    public void Begin(ReadOnlySpan<int> postings, SpannSearcher searcher)
    {
        searcher.SetBatch(postings);
        long total = 0;
        foreach (int p in postings) total += (long)_directory.Pages[p] * PostingLayout.PageBytes;
        var buffer = searcher.ReadBuffer(total);
        var batch = searcher.ReadBatch(postings.Length, _workers.Dispatch);
        batch.Begin(_file);
        long at = 0;
        var offsets = searcher.BatchOffsets;
        for (int i = 0; i < postings.Length; i++)
        {
            int p = postings[i];
            int bytes = _directory.Pages[p] * PostingLayout.PageBytes;
            offsets[i] = at;
            batch.Add(buffer.Pointer + at, bytes, _directory.Offsets[p]);
            at += bytes;
        }
        batch.Issue();
    }

    public ReadOnlySpan<byte> Get(int index, SpannSearcher searcher)
    {
        searcher.CurrentReadBatch!.WaitFor(index);
        int p = searcher.Batch[index];
        return new ReadOnlySpan<byte>(searcher.CurrentReadBuffer!.Pointer + searcher.BatchOffsets[index], _directory.Pages[p] * PostingLayout.PageBytes);
    }

    public void End(SpannSearcher searcher) => searcher.CurrentReadBatch?.Drain();

    public void Dispose() => _file.Dispose();
}
