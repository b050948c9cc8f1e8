using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retrieval.Index.Seismic;

/// <summary>
/// The AVX-512 kernels that score a 16-bit-term forward row against a query prepared as <see cref="QueryLanes"/>: no
/// gathers, the row's terms matched against the query's in registers. Static and aggressively inlined into the
/// forward index's scoring loop (<see cref="ForwardIndex{TTerm, TValue}"/>), which checks <see cref="QueryLanes.IsSupported"/>
/// and the row's distance from the array's end before calling them.
/// </summary>
internal static class LaneKernels
{
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
    public static float DotLanesHalf(ref ushort terms, int length, QueryLanes lanes)
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
    public static float DotLanesFloat(ref ushort terms, int length, QueryLanes lanes)
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
}
