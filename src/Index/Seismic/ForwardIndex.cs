using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Search;
using Retrieval.Index.Storage;

namespace Retrieval.Index.Seismic;

/// <summary>
/// Every document's full sparse vector, stored contiguously for exact re-scoring: row offsets, term ids (16-bit
/// when the vocabulary has at most 65,536 terms, else 32-bit) and weights (float16 by default, or float32). Each row
/// is one run of bytes, its term ids followed by its weights, so scoring a document touches one contiguous region of
/// 4 bytes per entry, not two arrays. Rows are indexed by row number, which <see cref="SeismicIndex.RowDocuments"/>
/// maps to input document ids; with <see cref="ForwardRowOrder.BlockLocality"/> a block's documents are mostly
/// adjacent rows, otherwise each is a random access.
/// The four layouts are one generic class over (term, value) element types (<see cref="ForwardIndex{TTerm, TValue}"/>, in
/// ForwardIndexLayout.cs) so the scoring loop is compiled once per
/// layout with no per-entry branches.
/// </summary>
internal abstract unsafe class ForwardIndex : IDisposable
{
    /// <summary>
    /// The first row byte: a pinned array's data (<see cref="ForwardIndexResidence.Memory"/>) or a mapped file range
    /// (<see cref="ForwardIndexResidence.MemoryMapped"/>); one pointer either way, so scoring has a single code path.
    /// </summary>
    private protected readonly byte* RowBase;
    private readonly GCHandle _pin;
    private int _disposed;

    private protected ForwardIndex(long[] offsets, int vocabularySize, byte[] rows)
    {
        Offsets = offsets;
        VocabularySize = vocabularySize;
        // Pinned for the index's lifetime (large arrays sit in the large-object heap, which does not move them anyway).
        _pin = GCHandle.Alloc(rows, GCHandleType.Pinned);
        RowBase = (byte*)_pin.AddrOfPinnedObject();
        RowLength = rows.LongLength;
        RowArray = rows;
    }

    private protected ForwardIndex(long[] offsets, int vocabularySize, MappedFileRegion mapping)
    {
        Offsets = offsets;
        VocabularySize = vocabularySize;
        RowBase = mapping.Pointer;
        RowLength = mapping.Length;
        Mapping = mapping;
    }

    ~ForwardIndex()
    {
        if (_pin.IsAllocated) _pin.Free();
    }

    /// <summary>The rows' array in memory; null when mapped.</summary>
    private protected byte[]? RowArray { get; }

    /// <summary>The mapped rows; null when they are in memory.</summary>
    public MappedFileRegion? Mapping { get; }

    /// <summary>Where the rows live.</summary>
    public ForwardIndexResidence Residence => Mapping is null ? ForwardIndexResidence.Memory : ForwardIndexResidence.MemoryMapped;

    /// <summary>Bytes of the stored rows (term ids and weights).</summary>
    public long RowLength { get; }

    /// <summary>The first row byte (see <see cref="RowBase"/>); valid while this index is alive and, when mapped, not disposed.</summary>
    internal byte* RowPointer => RowBase;

    /// <summary>The rows as stored (format version 2+): per document its term ids, then its weights, back to back.</summary>
    internal ReadOnlySpan<byte> Rows => new(RowBase, checked((int)RowLength));

    /// <summary>
    /// Takes a lease on mapped rows for one search (they stay mapped until <see cref="EndRead"/>); throws
    /// ObjectDisposedException once disposed. A no-op in memory.
    /// </summary>
    public void BeginRead()
    {
        if (Mapping is { } m) m.AddRef();
        else if (Volatile.Read(ref _disposed) != 0) throw new ObjectDisposedException(nameof(SeismicIndex));
    }

    public void EndRead() => Mapping?.Release();

    /// <summary>Unmaps mapped rows (after running searches end); in memory, later searches are refused and the array is unpinned when collected.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Mapping?.Dispose();
    }

    /// <summary>Document d's entries are [Offsets[d], Offsets[d+1]).</summary>
    public long[] Offsets { get; }
    public int DocumentCount => Offsets.Length - 1;
    public int VocabularySize { get; }
    /// <summary>Bytes of the rows backed by 2 MiB pages (see <see cref="HugePages"/>; 0 where the OS declined).</summary>
    public long HugePageBytes { get; protected init; }
    public long NonZeroCount => Offsets[^1];

    public abstract bool WideTermIds { get; }
    public abstract ForwardValueStorage ValueStorage { get; }

    /// <summary>Bytes of offsets, term ids and values, wherever the rows live.</summary>
    public long SizeInBytes => Offsets.LongLength * sizeof(long) + RowLength;

    /// <summary>Of <see cref="SizeInBytes"/>, what this process holds in its own memory: all of it, or only the offsets when the rows are mapped.</summary>
    public long ResidentBytes => Offsets.LongLength * sizeof(long) + (Mapping is null ? RowLength : 0);

    public int LengthOf(int doc) => (int)(Offsets[doc + 1] - Offsets[doc]);

    /// <summary>Copies document <paramref name="doc"/>'s term ids and weights (as float) into the spans; returns its length.</summary>
    public abstract int CopyRow(int doc, Span<int> terms, Span<float> weights);

    /// <summary>Inner product of document <paramref name="doc"/> with a query scattered into a dense array over the vocabulary.</summary>
    public abstract float Dot(int doc, ReadOnlySpan<float> denseQuery);

    /// <summary>
    /// Scores every document of <paramref name="docs"/> not yet in <paramref name="visited"/> against the dense
    /// query, marks it and offers it to the heap; returns how many documents were scored. One virtual call per block.
    /// <paramref name="nextDocs"/> are the documents likely scored next (the next block that passes the heap test):
    /// they are only prefetched, so the memory pipeline does not drain at every block boundary. <paramref name="docs"/>
    /// are rows; the heap receives <paramref name="rowDocuments"/>[row], the input document id (so ties break on it).
    /// <paramref name="lanes"/>, when set with a non-zero count, is the same query prepared for gather-free scoring of
    /// 16-bit-term rows (the dense array is then not read for those rows).
    /// </summary>
    internal abstract int ScoreUnvisited(ReadOnlySpan<int> docs, ReadOnlySpan<int> nextDocs, float[] denseQuery,
        VisitedDocuments visited, TopKHeap heap, float[] valueScratch, int[] rowDocuments, QueryLanes? lanes = null,
        ReadOnlySpan<uint> refs = default, ReadOnlySpan<uint> nextRefs = default);

    /// <summary>Row references hold entry starts below 2^24 and lengths below 255 (longer rows read the offsets).</summary>
    internal const int RefLengthBits = 8;
    internal const uint RefLengthEscape = (1u << RefLengthBits) - 1;

    /// <summary>
    /// Per posting of <paramref name="postingRows"/>, its row's first entry and length packed in 32 bits (entry start
    /// above, length below; length 255 means "read the offsets"), or null when the forward index has 2^24 entries or
    /// more. Scoring a block then finds each row from the posting itself, a sequential read beside the row ids, where
    /// the offsets array was one more random access per document and made every row prefetch wait for it.
    /// </summary>
    internal static uint[]? RowRefs(ForwardIndex forward, int[] postingRows)
    {
        if (forward.NonZeroCount >= 1L << (32 - RefLengthBits)) return null;
        var refs = new uint[postingRows.Length];
        long[] offsets = forward.Offsets;
        for (int i = 0; i < postingRows.Length; i++)
        {
            int row = postingRows[i];
            long start = offsets[row];
            uint length = (uint)Math.Min(offsets[row + 1] - start, RefLengthEscape);
            refs[i] = ((uint)start << RefLengthBits) | length;
        }
        return refs;
    }

    /// <summary>Bytes per stored entry for a layout: term id plus weight.</summary>
    internal static int EntryBytes(bool wideTermIds, ForwardValueStorage values) =>
        (wideTermIds ? sizeof(int) : sizeof(ushort)) + (values == ForwardValueStorage.Float16 ? 2 : sizeof(float));

    /// <summary>Interleaves separate term-id and weight arrays (CSR order) into the row layout.</summary>
    internal static ForwardIndex Create(long[] offsets, int vocabularySize, Array terms, Array values) => (terms, values) switch
    {
        (ushort[] t, Half[] v) => new ForwardIndex<ushort, Half>(offsets, vocabularySize, Interleave(offsets, t, v)),
        (ushort[] t, float[] v) => new ForwardIndex<ushort, float>(offsets, vocabularySize, Interleave(offsets, t, v)),
        (int[] t, Half[] v) => new ForwardIndex<int, Half>(offsets, vocabularySize, Interleave(offsets, t, v)),
        (int[] t, float[] v) => new ForwardIndex<int, float>(offsets, vocabularySize, Interleave(offsets, t, v)),
        _ => throw new ArgumentException($"unsupported forward layout {terms.GetType().Name}/{values.GetType().Name}"),
    };

    /// <summary>Wraps stored rows (as read from disk; the caller checked their length against the offsets).</summary>
    internal static ForwardIndex FromRows(long[] offsets, int vocabularySize, bool wideTermIds, ForwardValueStorage values, byte[] rows) =>
        (wideTermIds, values) switch
        {
            (false, ForwardValueStorage.Float16) => new ForwardIndex<ushort, Half>(offsets, vocabularySize, rows),
            (false, _) => new ForwardIndex<ushort, float>(offsets, vocabularySize, rows),
            (true, ForwardValueStorage.Float16) => new ForwardIndex<int, Half>(offsets, vocabularySize, rows),
            _ => new ForwardIndex<int, float>(offsets, vocabularySize, rows),
        };

    /// <summary>Wraps rows mapped from the index file (the caller checked their length against the offsets); disposing the index unmaps them.</summary>
    internal static ForwardIndex FromMapping(long[] offsets, int vocabularySize, bool wideTermIds, ForwardValueStorage values, MappedFileRegion rows) =>
        (wideTermIds, values) switch
        {
            (false, ForwardValueStorage.Float16) => new ForwardIndex<ushort, Half>(offsets, vocabularySize, rows),
            (false, _) => new ForwardIndex<ushort, float>(offsets, vocabularySize, rows),
            (true, ForwardValueStorage.Float16) => new ForwardIndex<int, Half>(offsets, vocabularySize, rows),
            _ => new ForwardIndex<int, float>(offsets, vocabularySize, rows),
        };

    /// <summary>
    /// The same rows stored in another order: row r of the result is row <paramref name="rowSources"/>[r] of this one
    /// (byte-identical, so scores do not change).
    /// </summary>
    internal ForwardIndex Reorder(int[] rowSources)
    {
        if (rowSources.Length != DocumentCount)
            throw new ArgumentException($"{rowSources.Length} row sources for {DocumentCount} rows");
        int stride = EntryBytes(WideTermIds, ValueStorage);
        var source = Rows;
        var offsets = new long[rowSources.Length + 1];
        for (int r = 0; r < rowSources.Length; r++) offsets[r + 1] = offsets[r] + LengthOf(rowSources[r]);
        var rows = new byte[source.Length];
        for (int r = 0; r < rowSources.Length; r++)
            source.Slice((int)Offsets[rowSources[r]] * stride, (int)(offsets[r + 1] - offsets[r]) * stride).CopyTo(rows.AsSpan((int)offsets[r] * stride));
        return FromRows(offsets, VocabularySize, WideTermIds, ValueStorage, rows);
    }

    private static byte[] Interleave<TTerm, TValue>(long[] offsets, TTerm[] terms, TValue[] values)
        where TTerm : unmanaged
        where TValue : unmanaged
    {
        int termBytes = Unsafe.SizeOf<TTerm>(), valueBytes = Unsafe.SizeOf<TValue>();
        long total = terms.LongLength * (termBytes + valueBytes);
        if (total > Array.MaxLength)
            throw new Errors.RetrievalException(Errors.ErrorKind.ResourceExhausted,
                $"forward index of {terms.LongLength} entries needs {total} bytes, more than one array holds; prune or split the collection");
        var rows = new byte[total];
        for (int d = 0; d + 1 < offsets.Length; d++)
        {
            long start = offsets[d];
            int length = (int)(offsets[d + 1] - start);
            long at = start * (termBytes + valueBytes);
            MemoryMarshal.AsBytes(terms.AsSpan((int)start, length)).CopyTo(rows.AsSpan((int)at, length * termBytes));
            MemoryMarshal.AsBytes(values.AsSpan((int)start, length)).CopyTo(rows.AsSpan((int)(at + (long)length * termBytes), length * valueBytes));
        }
        return rows;
    }
}
