using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Retrieval.Index.Seismic;

/// <summary>
/// An in-place binary max-heap over 64-bit keys (summary score bits above, global block below: non-negative floats
/// order as their bit patterns). Built in linear time; each pop is log n. Used to visit blocks best first across
/// lists without sorting the many that are never reached.
/// </summary>
internal static class BlockKeyHeap
{
    public static void Build(Span<long> keys)
    {
        for (int i = (keys.Length >> 1) - 1; i >= 0; i--) SiftDown(keys, i, keys.Length, keys[i]);
    }

    /// <summary>Removes and returns the largest key; <paramref name="count"/> is the heap's size before and after.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Pop(Span<long> keys, ref int count)
    {
        long top = keys[0];
        count--;
        if (count > 0) SiftDown(keys, 0, count, keys[count]);
        return top;
    }

    private static void SiftDown(Span<long> keys, int pos, int count, long key)
    {
        ref long heap = ref MemoryMarshal.GetReference(keys);
        while (true)
        {
            int child = 2 * pos + 1;
            if (child >= count) break;
            long c = Unsafe.Add(ref heap, child);
            if (child + 1 < count)
            {
                long r = Unsafe.Add(ref heap, child + 1);
                if (r > c)
                {
                    c = r;
                    child++;
                }
            }
            if (c <= key) break;
            Unsafe.Add(ref heap, pos) = c;
            pos = child;
        }
        Unsafe.Add(ref heap, pos) = key;
    }
}
