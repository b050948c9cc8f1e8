using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Retrieval.Index.Errors;

namespace Retrieval.Bench.Benchmarks;

/// <summary>
/// Sustained sequential-read bandwidth of this machine: <see cref="Threads"/> threads each sum a contiguous
/// slice of one buffer far larger than the caches; the best of <see cref="Repetitions"/> passes counts.
/// <see cref="BytesPerSecond"/> = buffer bytes / seconds of the best pass (decimal GB/s in <see cref="GigabytesPerSecond"/>).
/// </summary>
public sealed record MemoryBandwidthResult(int Threads, long BufferBytes, int Repetitions, double BestSeconds, double BytesPerSecond)
{
    public double GigabytesPerSecond => BytesPerSecond / 1e9;
}

/// <summary>Measures the physical limit that exact (brute-force) search over a base larger than the caches runs into.</summary>
public static class MemoryBandwidth
{
    /// <summary>1 GiB: far beyond any last-level cache, so every pass streams from DRAM.</summary>
    public const long DefaultBytes = 1L << 30;

    public const int DefaultRepetitions = 5;

    private static long s_sink;

    /// <summary>Allocates and touches a buffer of <paramref name="bytes"/>, then measures with <paramref name="threads"/> threads (0 = all cores).</summary>
    public static MemoryBandwidthResult Measure(int threads, long bytes = DefaultBytes, int repetitions = DefaultRepetitions)
    {
        if (bytes < 4096 || bytes > Array.MaxLength) Guard.ThrowInvalid($"buffer size must be 4096..{Array.MaxLength} bytes, got {bytes}");
        ValidateParameters(threads, repetitions);
        var buffer = AllocateTouched(bytes);
        return MeasureOn(buffer, threads, repetitions);
    }

    /// <summary>Measures several thread counts over one buffer (allocating and touching 1 GiB takes longer than reading it).</summary>
    public static MemoryBandwidthResult[] Measure(ReadOnlySpan<int> threadCounts, long bytes = DefaultBytes, int repetitions = DefaultRepetitions)
    {
        if (bytes < 4096 || bytes > Array.MaxLength) Guard.ThrowInvalid($"buffer size must be 4096..{Array.MaxLength} bytes, got {bytes}");
        foreach (int threads in threadCounts) ValidateParameters(threads, repetitions);
        var buffer = AllocateTouched(bytes);
        var results = new MemoryBandwidthResult[threadCounts.Length];
        for (int i = 0; i < results.Length; i++) results[i] = MeasureOn(buffer, threadCounts[i], repetitions);
        return results;
    }

    private static MemoryBandwidthResult MeasureOn(byte[] buffer, int threads, int repetitions)
    {
        int workers = threads == 0 ? Environment.ProcessorCount : threads;
        long slice = buffer.LongLength / workers / 64 * 64;
        if (slice == 0) Guard.ThrowInvalid($"a {buffer.LongLength}-byte buffer is too small for {workers} threads");

        // Dedicated threads released together by a barrier: the timed region is the slowest slice, with no
        // thread-pool ramp-up inside it.
        using var start = new Barrier(workers + 1);
        using var done = new Barrier(workers + 1);
        var pool = new Thread[workers];
        for (int t = 0; t < workers; t++)
        {
            long offset = t * slice;
            pool[t] = new Thread(() =>
            {
                long local = 0;
                for (int rep = 0; rep < repetitions; rep++)
                {
                    start.SignalAndWait();
                    local += SumSlice(buffer, offset, slice);
                    done.SignalAndWait();
                }
                Interlocked.Add(ref s_sink, local);
            })
            { IsBackground = true, Name = $"bandwidth-{t}" };
            pool[t].Start();
        }
        double best = double.MaxValue;
        var clock = new Stopwatch();
        for (int rep = 0; rep < repetitions; rep++)
        {
            start.SignalAndWait();
            clock.Restart();
            done.SignalAndWait();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        foreach (var thread in pool) thread.Join();
        long bytesRead = slice * workers;
        return new MemoryBandwidthResult(workers, bytesRead, repetitions, best, bytesRead / best);
    }

    private static void ValidateParameters(int threads, int repetitions)
    {
        if (threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {threads}");
        if (repetitions < 1) Guard.ThrowInvalid($"repetitions must be >= 1, got {repetitions}");
    }

    private static byte[] AllocateTouched(long bytes)
    {
        var buffer = GC.AllocateUninitializedArray<byte>((int)bytes);
        // Write every page so the timed passes read resident memory, not fresh zero pages.
        for (long i = 0; i < bytes; i += 4096) buffer[i] = (byte)(i >> 12);
        return buffer;
    }

    /// <summary>Adds up 64-bit words with four independent vector accumulators (far more adds than DRAM can feed).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long SumSlice(byte[] buffer, long offset, long length)
    {
        ref ulong words = ref Unsafe.As<byte, ulong>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(buffer), (nint)offset));
        nuint count = (nuint)(length / sizeof(ulong));
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 32 <= count; i += 32)
            {
                a0 += Vector512.LoadUnsafe(ref words, i);
                a1 += Vector512.LoadUnsafe(ref words, i + 8);
                a2 += Vector512.LoadUnsafe(ref words, i + 16);
                a3 += Vector512.LoadUnsafe(ref words, i + 24);
            }
            var total = (a0 + a1) + (a2 + a3);
            ulong s = Vector512.Sum(total);
            for (; i < count; i++) s += Unsafe.Add(ref words, i);
            return (long)s;
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 16 <= count; i += 16)
            {
                a0 += Vector256.LoadUnsafe(ref words, i);
                a1 += Vector256.LoadUnsafe(ref words, i + 4);
                a2 += Vector256.LoadUnsafe(ref words, i + 8);
                a3 += Vector256.LoadUnsafe(ref words, i + 12);
            }
            ulong s = Vector256.Sum((a0 + a1) + (a2 + a3));
            for (; i < count; i++) s += Unsafe.Add(ref words, i);
            return (long)s;
        }
        ulong sum = 0;
        for (; i < count; i++) sum += Unsafe.Add(ref words, i);
        return (long)sum;
    }
}
