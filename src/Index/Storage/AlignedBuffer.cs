using System.Buffers;
using System.Runtime.InteropServices;

namespace Retrieval.Index.Storage;

/// <summary>
/// Native memory aligned to <see cref="Alignment"/> bytes (a disk page), as O_DIRECT reads require of their
/// destination. Also a <see cref="MemoryManager{T}"/> so slices can be handed to async file APIs without
/// copying or pinning. Owns its memory: dispose it.
/// <para>On Linux, buffers of <see cref="MapThresholdBytes"/> or more are their own anonymous mappings, returned to
/// the OS on dispose. Through posix_memalign they would come from glibc's heap once its dynamic mmap threshold has
/// risen past their size (it rises to the size of each mapped block freed), and a server that keeps opening and
/// closing in-memory SPANN segments of a few MiB then fragments that heap: resident memory grows while the managed
/// heap stays flat (measured in docs/BENCHMARKS.md, SPANN), and stays flat with mappings.</para>
/// </summary>
internal sealed unsafe partial class AlignedBuffer : MemoryManager<byte>
{
    public const int Alignment = 4096;
    public const long MapThresholdBytes = 1L << 20;

    private byte* _pointer;
    private readonly bool _mapped;

    public AlignedBuffer(long length)
    {
        if (length < 0 || length > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(length), length, "aligned buffers hold 0..2 GiB");
        Length = (int)length;
        if (length >= MapThresholdBytes && OperatingSystem.IsLinux())
        {
            void* p = Mmap(null, (nuint)length, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            if (p == MapFailed) throw new OutOfMemoryException($"mmap of {length} bytes failed (errno {Marshal.GetLastPInvokeError()})");
            _pointer = (byte*)p;
            _mapped = true;
        }
        else
        {
            _pointer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(length, 1), Alignment);
        }
    }

    public int Length { get; }
    public byte* Pointer => _pointer;
    public Span<byte> Span => new(_pointer, Length);

    public override Span<byte> GetSpan() => new(_pointer, Length);
    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);
    public override void Unpin() { }

    protected override void Dispose(bool disposing)
    {
        if (_pointer is null) return;
        if (_mapped) Munmap(_pointer, (nuint)Length);
        else NativeMemory.AlignedFree(_pointer);
        _pointer = null;
    }

    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 0x02, MapAnonymous = 0x20;
    private static readonly void* MapFailed = (void*)-1;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(void* address, nuint length);
}
