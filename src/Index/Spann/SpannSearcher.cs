using Retrieval.Index.Graphs;
using Retrieval.Index.Search;
using Retrieval.Index.Storage;

namespace Retrieval.Index.Spann;

/// <summary>
/// Per-thread search state of one <see cref="SpannIndex"/>: query buffer, head list, visited/dedup stamps
/// (an epoch per query, never cleared), heaps, score buffer and aligned read buffers. Grows to the largest
/// query seen and is then reused with no allocation. Rented from the index's pool; one thread at a time.
/// </summary>
internal sealed class SpannSearcher : IDisposable
{
    private readonly int[] _stamps;
    private int _epoch;
    private TopKHeap? _heap;
    private AlignedBuffer? _readBuffer;
    private ConcurrentReadBatch? _readBatch;
    private AlignedBuffer? _rerankBuffer;
    private ConcurrentReadBatch? _rerankBatch;

    internal SpannSearcher(int vectorCount, int dimension, int maxPostingCount)
    {
        _stamps = new int[vectorCount];
        Query = new float[dimension];
        Scores = new float[Math.Max(4, maxPostingCount)];
    }

    internal float[] Query { get; }
    internal float QuerySquaredNorm;
    internal float[] Scores { get; }
    internal int[] HeadIds { get; private set; } = [];
    internal float[] HeadGoodness { get; private set; } = [];
    internal int[] Batch { get; private set; } = [];
    internal long[] BatchOffsets { get; private set; } = [];
    internal int[] CandidateIds { get; private set; } = [];
    internal float[] CandidateGoodness { get; private set; } = [];
    internal GraphSearchScratch Graph { get; } = new();
    internal AlignedBuffer? CurrentReadBuffer => _readBuffer;
    internal ConcurrentReadBatch? CurrentReadBatch => _readBatch;

    internal void EnsureHeads(int count)
    {
        if (HeadIds.Length >= count) return;
        HeadIds = new int[count];
        HeadGoodness = new float[count];
    }

    internal void EnsureCandidates(int count)
    {
        if (CandidateIds.Length >= count) return;
        CandidateIds = new int[count];
        CandidateGoodness = new float[count];
    }

    internal TopKHeap Heap(int capacity)
    {
        if (_heap is null || _heap.Capacity != capacity) _heap = new TopKHeap(capacity);
        _heap.Clear();
        return _heap;
    }

    /// <summary>Starts a query's de-duplication epoch.</summary>
    internal int NextEpoch()
    {
        if (++_epoch == int.MaxValue)
        {
            Array.Clear(_stamps);
            _epoch = 1;
        }
        return _epoch;
    }

    internal int[] Stamps => _stamps;

    internal void SetBatch(ReadOnlySpan<int> postings)
    {
        if (Batch.Length < postings.Length)
        {
            Batch = new int[postings.Length];
            BatchOffsets = new long[postings.Length];
        }
        postings.CopyTo(Batch);
    }

    internal AlignedBuffer ReadBuffer(long bytes)
    {
        if (_readBuffer is null || _readBuffer.Length < bytes)
        {
            (_readBuffer as IDisposable)?.Dispose();
            _readBuffer = new AlignedBuffer(Math.Max(bytes, 1L << 20));
        }
        return _readBuffer;
    }

    internal ConcurrentReadBatch ReadBatch(int reads, Action<IThreadPoolWorkItem> dispatch)
    {
        if (_readBatch is null || _readBatch.Capacity < reads)
        {
            _readBatch?.Dispose();
            _readBatch = new ConcurrentReadBatch(Math.Max(reads, 64), dispatch);
        }
        return _readBatch;
    }

    internal (AlignedBuffer Buffer, ConcurrentReadBatch Batch) Rerank(int reads, long bytes, Action<IThreadPoolWorkItem> dispatch)
    {
        if (_rerankBuffer is null || _rerankBuffer.Length < bytes)
        {
            (_rerankBuffer as IDisposable)?.Dispose();
            _rerankBuffer = new AlignedBuffer(bytes);
        }
        if (_rerankBatch is null || _rerankBatch.Capacity < reads)
        {
            _rerankBatch?.Dispose();
            _rerankBatch = new ConcurrentReadBatch(reads, dispatch);
        }
        return (_rerankBuffer, _rerankBatch);
    }

    public void Dispose()
    {
        _readBatch?.Dispose();
        _rerankBatch?.Dispose();
        (_readBuffer as IDisposable)?.Dispose();
        (_rerankBuffer as IDisposable)?.Dispose();
    }
}
