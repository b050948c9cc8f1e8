using Retrieval.Index.Storage;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Retrieval.Index.Search;

namespace Retrieval.Index.Seismic;

/// <summary>
/// Every document's full sparse vector, stored contiguously for exact re-scoring: row offsets, term ids (16-bit
/// when the vocabulary has at most 65,536 terms, else 32-bit) and weights (float16 by default, or float32). Each row
/// is one run of bytes, its term ids followed by its weights, so scoring a document touches one contiguous region of
/// 4 bytes per entry, not two arrays. Rows are indexed by row number, which <see cref="SeismicIndex.RowDocuments"/>
/// maps to input document ids; with <see cref="ForwardRowOrder.BlockLocality"/> a block's documents are mostly
/// adjacent rows, otherwise each is a random access.
/// The four layouts are one generic class over (term, value) element types so the scoring loop is compiled once per
/// layout with no per-entry branches.
/// </summary>
public abstract class ForwardIndex
{
    private protected ForwardIndex(long[] offsets, int vocabularySize)
    {
        Offsets = offsets;
        VocabularySize = vocabularySize;
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

    /// <summary>Bytes held by offsets, term ids and values.</summary>
    public abstract long SizeInBytes { get; }

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

    /// <summary>The rows as stored (format version 2): per document its term ids, then its weights, back to back.</summary>
    internal abstract byte[] RowBytes { get; }

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

    /// <summary>
    /// The same rows stored in another order: row r of the result is row <paramref name="rowSources"/>[r] of this one
    /// (byte-identical, so scores do not change).
    /// </summary>
    internal ForwardIndex Reorder(int[] rowSources)
    {
        if (rowSources.Length != DocumentCount)
            throw new ArgumentException($"{rowSources.Length} row sources for {DocumentCount} rows");
        long stride = EntryBytes(WideTermIds, ValueStorage);
        var source = RowBytes;
        var offsets = new long[rowSources.Length + 1];
        for (int r = 0; r < rowSources.Length; r++) offsets[r + 1] = offsets[r] + LengthOf(rowSources[r]);
        var rows = new byte[source.LongLength];
        for (int r = 0; r < rowSources.Length; r++)
            Array.Copy(source, Offsets[rowSources[r]] * stride, rows, offsets[r] * stride, (offsets[r + 1] - offsets[r]) * stride);
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

internal sealed class ForwardIndex<TTerm, TValue> : ForwardIndex
    where TTerm : unmanaged
    where TValue : unmanaged
{
    private static readonly int Stride = Unsafe.SizeOf<TTerm>() + Unsafe.SizeOf<TValue>();
    private readonly byte[] _rows;

    public ForwardIndex(long[] offsets, int vocabularySize, byte[] rows)
        : base(offsets, vocabularySize)
    {
        _rows = rows;
        HugePageBytes = HugePages.TryBack(rows);
    }

    public override bool WideTermIds => typeof(TTerm) == typeof(int);
    public override ForwardValueStorage ValueStorage =>
        typeof(TValue) == typeof(Half) ? ForwardValueStorage.Float16 : ForwardValueStorage.Float32;
    public override long SizeInBytes => Offsets.LongLength * sizeof(long) + _rows.LongLength;

    internal override byte[] RowBytes => _rows;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref byte RowStart(long start) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_rows), (nint)(start * Stride));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref TValue ValuesOf(ref byte row, int length) =>
        ref Unsafe.As<byte, TValue>(ref Unsafe.Add(ref row, (nint)length * Unsafe.SizeOf<TTerm>()));

    public override int CopyRow(int doc, Span<int> terms, Span<float> weights)
    {
        long start = Offsets[doc];
        int length = (int)(Offsets[doc + 1] - start);
        if (terms.Length < length || weights.Length < length)
            throw new ArgumentException($"row {doc} has {length} entries, spans hold {terms.Length} and {weights.Length}");
        ref byte row = ref RowStart(start);
        ref TTerm rowTerms = ref Unsafe.As<byte, TTerm>(ref row);
        ref TValue rowValues = ref ValuesOf(ref row, length);
        for (int i = 0; i < length; i++)
        {
            terms[i] = Term(ref rowTerms, i);
            weights[i] = Value(ref rowValues, i);
        }
        return length;
    }

    public override float Dot(int doc, ReadOnlySpan<float> denseQuery)
    {
        long start = Offsets[doc];
        int length = (int)(Offsets[doc + 1] - start);
        ref byte row = ref RowStart(start);
        if (typeof(TValue) == typeof(float))
            return DotCore(ref Unsafe.As<byte, TTerm>(ref row), length, ref MemoryMarshal.GetReference(denseQuery),
                ref Unsafe.As<TValue, float>(ref ValuesOf(ref row, length)));
        Span<float> converted = length <= 512 ? stackalloc float[length] : new float[length];
        TensorPrimitives.ConvertToSingle(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<TValue, Half>(ref ValuesOf(ref row, length)), length), converted);
        return DotCore(ref Unsafe.As<byte, TTerm>(ref row), length, ref MemoryMarshal.GetReference(denseQuery), ref MemoryMarshal.GetReference(converted));
    }

    internal override unsafe int ScoreUnvisited(ReadOnlySpan<int> docs, ReadOnlySpan<int> nextDocs, float[] denseQuery,
        VisitedDocuments visited, TopKHeap heap, float[] valueScratch, int[] rowDocuments, QueryLanes? lanes = null,
        ReadOnlySpan<uint> refs = default, ReadOnlySpan<uint> nextRefs = default)
    {
        if (refs.Length == docs.Length && docs.Length > 0)
            return ScoreByRefs(docs, refs, nextRefs, denseQuery, visited, heap, valueScratch, rowDocuments, lanes);
        bool useLanes = typeof(TTerm) == typeof(ushort) && lanes is { Count: > 0 };
        ref float query = ref MemoryMarshal.GetArrayDataReference(denseQuery);
        long[] offsets = Offsets;
        int scored = 0;
        for (int i = 0; i < docs.Length; i++)
        {
            // Forward rows of a block's documents not stored next to each other (see ForwardRowOrder) are each a cache
            // (and often TLB) miss; prefetching the offsets eight documents ahead and the rows four ahead (running on into the next
            // block) overlaps those misses. Blocks average 10-20 documents, so without the look into the next block a
            // third of the documents started cold.
            if (Sse.IsSupported)
            {
                int o = i + PrefetchOffsetsAhead, r = i + PrefetchRowsAhead;
                if (o < docs.Length)
                {
                    Sse.Prefetch0(Unsafe.AsPointer(ref offsets[docs[o]]));
                }
                else if (o - docs.Length < nextDocs.Length)
                {
                    Sse.Prefetch0(Unsafe.AsPointer(ref offsets[nextDocs[o - docs.Length]]));
                }
                if (r < docs.Length) PrefetchRow(offsets[docs[r]]);
                else if (r - docs.Length < nextDocs.Length) PrefetchRow(offsets[nextDocs[r - docs.Length]]);
            }
            int doc = docs[i];
            if (!visited.TryVisit(doc)) continue;
            long start = offsets[doc];
            int length = (int)(offsets[doc + 1] - start);
            float score = RowScore(start, length, ref query, useLanes ? lanes : null, valueScratch);
            // Most scored documents cannot enter the heap: only those that can pay for the row -> document lookup.
            if (score >= heap.Threshold)
                heap.Push(Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(rowDocuments), doc), score);
            scored++;
        }
        return scored;
    }

    /// <summary>
    /// Per-lane table index of the query term each of 32 row terms matches (0 = none; lanes at or past
    /// <paramref name="remaining"/> are 0): by the query-term hash when the query has one (about 6 operations per 32
    /// row terms), else one compare and merge per query term.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ushort> MatchLanes(Vector512<ushort> rowTerms, int remaining, QueryLanes lanes)
    {
        Vector512<ushort> sel;
        if (lanes.Hashed)
        {
            var slot = Vector512.ShiftRightLogical(rowTerms * Vector512.Create(lanes.HashMultiplier), QueryLanes.HashShift);
            var slotTerm = Avx512BW.PermuteVar32x16x2(lanes.SlotTermsLow, slot, lanes.SlotTermsHigh);
            sel = Vector512.Equals(slotTerm, rowTerms) & Avx512BW.PermuteVar32x16x2(lanes.SlotIndexLow, slot, lanes.SlotIndexHigh);
        }
        else
        {
            sel = Vector512<ushort>.Zero;
            ref Vector512<ushort> termB = ref MemoryMarshal.GetArrayDataReference(lanes.TermBroadcasts);
            ref Vector512<ushort> indexB = ref MemoryMarshal.GetArrayDataReference(lanes.IndexBroadcasts);
            for (int j = 0; j < lanes.Count; j++)
                sel |= Vector512.Equals(rowTerms, Unsafe.Add(ref termB, j)) & Unsafe.Add(ref indexB, j);
        }
        if (remaining < 32) sel &= Vector512.LessThan(LaneIota, Vector512.Create((ushort)remaining));
        return sel;
    }

    /// <summary>Sum of the 16 lanes by halving (Vector512.Sum reduces each 128-bit quarter separately: a longer chain).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HorizontalSum(Vector512<float> v)
    {
        var s256 = v.GetLower() + v.GetUpper();
        var s128 = s256.GetLower() + s256.GetUpper();
        s128 += Sse.Shuffle(s128, s128, 0b_01_00_11_10);
        s128 += Sse.Shuffle(s128, s128, 0b_10_11_00_01);
        return s128.ToScalar();
    }

    private static readonly Vector512<ushort> LaneIota = Vector512.Create(
        (ushort)0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);

    /// <summary>
    /// Dot product of a float16 row with a lane-prepared query, 32 entries per step, no gathers. The halves become
    /// floats scaled by 2^-112 (magnitude bits shifted into place, sign moved up; no multiply), which the table's
    /// 2^112-scaled weights cancel exactly. Reads up to 64 bytes past the row (the caller checked the array holds them);
    /// lanes past the row get weight 0 and their bits can never form an infinity or NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotLanesHalf(ref ushort terms, int length, QueryLanes lanes)
    {
        ref ushort halves = ref Unsafe.Add(ref terms, length);
        var acc = Vector512<float>.Zero;
        var tableLow = lanes.HalfTableLow;
        var tableHigh = lanes.HalfTableHigh;
        var magnitude = Vector512.Create(0x0FFFE000u);
        var sign = Vector512.Create(0x8000u);
        for (int i = 0; i < length; i += 32)
        {
            var sel = MatchLanes(Vector512.LoadUnsafe(ref terms, (nuint)i), length - i, lanes);
            var low = Avx512F.ConvertToVector512Int32(sel.GetLower());
            var h = Avx512F.ConvertToVector512Int32(Vector256.LoadUnsafe(ref halves, (nuint)i)).AsUInt32();
            var value = (Vector512.ShiftLeft(h, 13) & magnitude) | Vector512.ShiftLeft(h & sign, 16);
            acc = Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32x2(tableLow, low, tableHigh), value.AsSingle(), acc);
            if (length - i <= 16) break;
            var high = Avx512F.ConvertToVector512Int32(sel.GetUpper());
            h = Avx512F.ConvertToVector512Int32(Vector256.LoadUnsafe(ref halves, (nuint)(i + 16))).AsUInt32();
            value = (Vector512.ShiftLeft(h, 13) & magnitude) | Vector512.ShiftLeft(h & sign, 16);
            acc = Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32x2(tableLow, high, tableHigh), value.AsSingle(), acc);
        }
        return HorizontalSum(acc);
    }

    /// <summary>As <see cref="DotLanesHalf"/> for float32 rows (unscaled table).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotLanesFloat(ref ushort terms, int length, QueryLanes lanes)
    {
        ref float values = ref Unsafe.As<ushort, float>(ref Unsafe.Add(ref terms, length));
        var acc = Vector512<float>.Zero;
        var tableLow = lanes.TableLow;
        var tableHigh = lanes.TableHigh;
        for (int i = 0; i < length; i += 32)
        {
            var sel = MatchLanes(Vector512.LoadUnsafe(ref terms, (nuint)i), length - i, lanes);
            var low = Avx512F.ConvertToVector512Int32(sel.GetLower());
            // Lanes past the row hold other bytes, possibly NaN patterns: zero them rather than multiply by weight 0.
            var weights = Avx512F.PermuteVar16x32x2(tableLow, low, tableHigh);
            acc += Vector512.ConditionalSelect(Vector512.Equals(low, Vector512<int>.Zero).AsSingle(), Vector512<float>.Zero,
                weights * Vector512.LoadUnsafe(ref values, (nuint)i));
            if (length - i <= 16) break;
            var high = Avx512F.ConvertToVector512Int32(sel.GetUpper());
            weights = Avx512F.PermuteVar16x32x2(tableLow, high, tableHigh);
            acc += Vector512.ConditionalSelect(Vector512.Equals(high, Vector512<int>.Zero).AsSingle(), Vector512<float>.Zero,
                weights * Vector512.LoadUnsafe(ref values, (nuint)(i + 16)));
        }
        return HorizontalSum(acc);
    }

    private unsafe int ScoreByRefs(ReadOnlySpan<int> docs, ReadOnlySpan<uint> refs, ReadOnlySpan<uint> nextRefs, float[] denseQuery,
        VisitedDocuments visited, TopKHeap heap, float[] valueScratch, int[] rowDocuments, QueryLanes? lanes)
    {
        bool useLanes = typeof(TTerm) == typeof(ushort) && lanes is { Count: > 0 };
        ref float query = ref MemoryMarshal.GetArrayDataReference(denseQuery);
        int scored = 0;
        for (int i = 0; i < docs.Length; i++)
        {
            // The posting names the row's bytes, so a row can be requested any distance ahead with no dependent load.
            if (Sse.IsSupported)
            {
                int r = i + RefPrefetchAhead;
                // Only the lines the row spans, and not at all for a document this query already scored.
                if (r < refs.Length)
                {
                    if (!visited.IsVisited(docs[r])) PrefetchRowRef(refs[r]);
                }
                else if (r - refs.Length < nextRefs.Length) PrefetchRowRef(nextRefs[r - refs.Length]);
            }
            int doc = docs[i];
            if (!visited.TryVisit(doc)) continue;
            uint reference = refs[i];
            long start = reference >> RefLengthBits;
            int length = (int)(reference & RefLengthEscape);
            if (length == RefLengthEscape) length = (int)(Offsets[doc + 1] - start);
            float score = RowScore(start, length, ref query, useLanes ? lanes : null, valueScratch);
            if (score >= heap.Threshold)
                heap.Push(Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(rowDocuments), doc), score);
            scored++;
        }
        return scored;
    }

    private const int RefPrefetchAhead = 4;

    /// <summary>The dot product of the row at entry <paramref name="start"/> with the query (lanes when given and usable).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float RowScore(long start, int length, ref float query, QueryLanes? lanes, float[] valueScratch)
    {
        ref byte row = ref RowStart(start);
        float score;
        // Lane scoring reads whole 64-byte vectors: rows ending within 128 bytes of the array's end take the gather path.
        if (typeof(TTerm) == typeof(ushort) && lanes is not null && (start + length) * Stride + 128 <= _rows.Length)
        {
            score = typeof(TValue) == typeof(Half)
                ? DotLanesHalf(ref Unsafe.As<byte, ushort>(ref row), length, lanes)
                : DotLanesFloat(ref Unsafe.As<byte, ushort>(ref row), length, lanes);
        }
        else if (typeof(TValue) == typeof(float))
        {
            score = DotCore(ref Unsafe.As<byte, TTerm>(ref row), length, ref query, ref Unsafe.As<TValue, float>(ref ValuesOf(ref row, length)));
        }
        else if (Avx2.IsSupported)
        {
            score = DotHalfAvx2(ref Unsafe.As<byte, TTerm>(ref row), length, ref query,
                ref Unsafe.As<TValue, ushort>(ref ValuesOf(ref row, length)));
        }
        else
        {
            // Half -> float in bulk (SIMD) beats a scalar conversion per entry inside the gather loop.
            TensorPrimitives.ConvertToSingle(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<TValue, Half>(ref ValuesOf(ref row, length)), length),
                valueScratch.AsSpan(0, length));
            score = DotCore(ref Unsafe.As<byte, TTerm>(ref row), length, ref query, ref MemoryMarshal.GetArrayDataReference(valueScratch));
        }
        return score;
    }

    private const int PrefetchOffsetsAhead = 8;
    private const int PrefetchRowsAhead = 4;

    /// <summary>
    /// Dot product of a float16 row with the dense query, eight entries per step: the term ids are widened and used as
    /// gather indices into the query, the half weights converted in registers. Half -> float here is exact: the
    /// magnitude bits shifted into float position and scaled by 2^112 (the exponent bias difference) give every normal
    /// and subnormal half exactly; infinities and NaN never reach the forward index (the builder rejects them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float DotHalfAvx2(ref TTerm terms, int length, ref float query, ref ushort halves)
    {
        var acc = Vector256<float>.Zero;
        var scale = Vector256.Create(BitConverter.Int32BitsToSingle((127 + 112) << 23)); // 2^112
        var magnitude = Vector256.Create(0x7FFFu);
        var sign = Vector256.Create(0x8000u);
        float* q = (float*)Unsafe.AsPointer(ref query);
        int i = 0;
        for (; i + 8 <= length; i += 8)
        {
            Vector256<int> index = typeof(TTerm) == typeof(ushort)
                ? Avx2.ConvertToVector256Int32(Vector128.LoadUnsafe(ref Unsafe.As<TTerm, ushort>(ref terms), (nuint)i))
                : Vector256.LoadUnsafe(ref Unsafe.As<TTerm, int>(ref terms), (nuint)i);
            var gathered = Avx2.GatherVector256(q, index, 4);
            var h = Avx2.ConvertToVector256Int32(Vector128.LoadUnsafe(ref halves, (nuint)i)).AsUInt32();
            var bits = Vector256.ShiftLeft(h & magnitude, 13);
            var value = (bits.AsSingle() * scale).AsUInt32() | Vector256.ShiftLeft(h & sign, 16);
            acc += gathered * value.AsSingle();
        }
        float sum = Vector256.Sum(acc);
        for (; i < length; i++)
            sum += Unsafe.Add(ref query, Term(ref terms, i)) * (float)BitConverter.UInt16BitsToHalf(Unsafe.Add(ref halves, i));
        return sum;
    }

    /// <summary>Prefetches exactly the cache lines a referenced row spans (at most four).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void PrefetchRowRef(uint reference)
    {
        byte* row = (byte*)Unsafe.AsPointer(ref RowStart(reference >> RefLengthBits));
        byte* last = row + Math.Min((long)(reference & RefLengthEscape) * Stride, 192);
        for (byte* line = (byte*)((nint)row & ~63); line <= last; line += 64) Sse.Prefetch0(line);
    }

    /// <summary>Prefetches the first three cache lines of a row (a 4-byte-entry row of 48 entries; a hint: a bad address is harmless).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void PrefetchRow(long start)
    {
        byte* row = (byte*)Unsafe.AsPointer(ref RowStart(start));
        Sse.Prefetch0(row);
        Sse.Prefetch0(row + 64);
        Sse.Prefetch0(row + 128);
    }

    /// <summary>
    /// Gathers query weights at the document's term ids. Four accumulators break the add dependency chain, so the sum
    /// is the exact dot product up to float reassociation (a few ulps), not bit-identical to a sequential sum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotCore(ref TTerm terms, int length, ref float query, ref float vals)
    {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 4 <= length; i += 4)
        {
            s0 += Unsafe.Add(ref query, Term(ref terms, i)) * Unsafe.Add(ref vals, i);
            s1 += Unsafe.Add(ref query, Term(ref terms, i + 1)) * Unsafe.Add(ref vals, i + 1);
            s2 += Unsafe.Add(ref query, Term(ref terms, i + 2)) * Unsafe.Add(ref vals, i + 2);
            s3 += Unsafe.Add(ref query, Term(ref terms, i + 3)) * Unsafe.Add(ref vals, i + 3);
        }
        for (; i < length; i++) s0 += Unsafe.Add(ref query, Term(ref terms, i)) * Unsafe.Add(ref vals, i);
        return (s0 + s1) + (s2 + s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Term(ref TTerm terms, int i) => typeof(TTerm) == typeof(ushort)
        ? Unsafe.As<TTerm, ushort>(ref Unsafe.Add(ref terms, i))
        : Unsafe.As<TTerm, int>(ref Unsafe.Add(ref terms, i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Value(ref TValue values, int i) => typeof(TValue) == typeof(Half)
        ? (float)Unsafe.As<TValue, Half>(ref Unsafe.Add(ref values, i))
        : Unsafe.As<TValue, float>(ref Unsafe.Add(ref values, i));
}
