using System.Runtime.InteropServices;

namespace Retrieval.Index.Storage;

/// <summary>
/// Asks Linux to back a large, randomly read array with 2 MiB pages. Document scoring touches a few cache lines in
/// each of ~1,000 rows spread over a forward index of tens of MiB: with 4 KiB pages nearly every row is also a TLB
/// miss and a page walk (the second-level TLB covers ~12 MiB). Transparent huge pages are usually enabled only for
/// memory that asks (`madvise` mode), and the GC never asks, so this marks the array's whole 2 MiB pages
/// MADV_HUGEPAGE and collapses them now (MADV_COLLAPSE, Linux 6.1+) rather than waiting for khugepaged. A hint only:
/// any failure (other OS, older kernel, THP disabled) leaves the array as it was, with the same contents.
/// </summary>
internal static class HugePages
{
    private const long HugePageBytes = 2L << 20;
    private const int MadvHugePage = 14;
    private const int MadvCollapse = 25;
    private static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>Advises and collapses the 2 MiB pages wholly inside <paramref name="array"/>; returns the bytes now on huge pages (0 on failure).</summary>
    public static unsafe long TryBack<T>(T[] array) where T : unmanaged
    {
        long bytes = array.LongLength * sizeof(T);
        if (_unavailable || bytes < 4 * HugePageBytes) return 0;
        // Large arrays live in the large-object heap, which the GC does not compact unless asked to; should it move
        // the array anyway, the advice stays with the old range and the array simply loses the benefit.
        fixed (T* data = array)
        {
            long start = ((long)data + HugePageBytes - 1) & ~(HugePageBytes - 1);
            long end = ((long)data + bytes) & ~(HugePageBytes - 1);
            if (end <= start) return 0;
            try
            {
                Madvise((nint)start, (nuint)(end - start), MadvHugePage);
                return Madvise((nint)start, (nuint)(end - start), MadvCollapse) == 0 ? end - start : 0;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                _unavailable = true;
                return 0;
            }
        }
    }

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int Madvise(nint address, nuint length, int advice);
}
