using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Retrieval.Index.Search;
using Retrieval.Index.Storage;

namespace Retrieval.Index.Seismic;

/// <summary>
/// One forward-index layout: term ids <typeparamref name="TTerm"/> (ushort or int) and weights <typeparamref name="TValue"/>
/// (Half or float), each row its term ids then its weights. The scoring loops are compiled once per layout, so the
/// typeof tests fold away and no entry pays a branch on the layout; 16-bit-term rows score through
/// <see cref="LaneKernels"/> when the query fits in lanes.
/// </summary>
internal sealed class ForwardIndex<TTerm, TValue> : ForwardIndex
    where TTerm : unmanaged
    where TValue : unmanaged
{
    private static readonly int Stride = Unsafe.SizeOf<TTerm>() + Unsafe.SizeOf<TValue>();

    public ForwardIndex(long[] offsets, int vocabularySize, byte[] rows)
        : base(offsets, vocabularySize, rows)
    {
        HugePageBytes = HugePages.TryBack(rows);
    }

    /// <summary>Rows read in place from a mapped file (page cache; no huge pages).</summary>
    public ForwardIndex(long[] offsets, int vocabularySize, MappedFileRegion rows)
        : base(offsets, vocabularySize, rows)
    {
    }

    public override bool WideTermIds => typeof(TTerm) == typeof(int);
    public override ForwardValueStorage ValueStorage =>
        typeof(TValue) == typeof(Half) ? ForwardValueStorage.Float16 : ForwardValueStorage.Float32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe ref byte RowStart(long start) => ref Unsafe.AsRef<byte>(RowBase + (nint)(start * Stride));

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
        // Lane scoring reads whole 64-byte vectors: rows ending within 128 bytes of the rows' end take the gather path.
        if (typeof(TTerm) == typeof(ushort) && lanes is not null && (start + length) * Stride + 128 <= RowLength)
        {
            score = typeof(TValue) == typeof(Half)
                ? LaneKernels.DotLanesHalf(ref Unsafe.As<byte, ushort>(ref row), length, lanes)
                : LaneKernels.DotLanesFloat(ref Unsafe.As<byte, ushort>(ref row), length, lanes);
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
