using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Storage;

/// <summary>
/// A byte range of a file mapped read-only and shared (MAP_SHARED): its pages are the kernel's page cache, so the
/// bytes a process touches count as file-backed memory (RssFile, reclaimable under pressure), not as anonymous
/// memory or managed heap. Readers use <see cref="Pointer"/> directly; a reader that may race with
/// <see cref="Dispose"/> holds a lease (<see cref="AddRef"/> / <see cref="Release"/>) so the unmap waits for it.
/// The range need not be page-aligned (the view starts at the page below it).
/// </summary>
/// <remarks>
/// The file must not be truncated or rewritten in place while mapped (a read past a shortened file is SIGBUS);
/// index files are only ever replaced by rename (<see cref="AtomicFile"/>), which leaves the mapped inode intact.
/// </remarks>
public sealed unsafe class MappedFileRegion : IDisposable
{
    private const int MadvDontNeed = 4;
    private static bool _adviceUnavailable = !OperatingSystem.IsLinux();
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly SafeMemoryMappedViewHandle _handle;
    private int _disposed;

    private MappedFileRegion(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, byte* pointer, long length)
    {
        Path = path;
        _file = file;
        _view = view;
        _handle = view.SafeMemoryMappedViewHandle;
        Pointer = pointer;
        Length = length;
    }

    /// <summary>The mapped file.</summary>
    public string Path { get; }
    /// <summary>The range's first byte (valid until <see cref="Dispose"/> and the last lease's <see cref="Release"/>).</summary>
    public byte* Pointer { get; }
    public long Length { get; }
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Maps <paramref name="length"/> (> 0) bytes of <paramref name="path"/> from <paramref name="offset"/>, read-only.</summary>
    public static MappedFileRegion Open(string path, long offset, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        MemoryMappedFile? file = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            // FileShare.Delete: an index directory may be replaced (files renamed over) while a reader maps the old files.
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
            if (stream.Length < offset + length)
            {
                long have = stream.Length;
                stream.Dispose();
                throw new DataFormatException(path, $"file is {have} bytes, the mapped range needs {offset + length} (truncated)");
            }
            file = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            view = file.CreateViewAccessor(offset, length, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            return new MappedFileRegion(path, file, view, start + view.PointerOffset, length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            view?.Dispose();
            file?.Dispose();
            throw new DataFormatException(path, $"cannot map bytes [{offset}, {offset + length}): {e.Message}");
        }
    }

    /// <summary>Takes a lease: the mapping stays until every lease is released. Throws ObjectDisposedException after <see cref="Dispose"/>.</summary>
    public void AddRef()
    {
        // The handle alone would still lend itself while another lease holds it open after Dispose; a racing Dispose
        // after this check is safe either way (the handle then refuses, or the unmap waits for this lease).
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        bool added = false;
        _handle.DangerousAddRef(ref added);
    }

    public void Release() => _handle.DangerousRelease();

    /// <summary>
    /// Drops this process's page-table entries for the range (MADV_DONTNEED; the pages stay in the page cache and
    /// the next touch maps them again without I/O): after a validation pass has read every byte, the process's
    /// resident set goes back to what queries touch. A hint: a no-op where unavailable.
    /// </summary>
    public void DropResidentPages()
    {
        if (_adviceUnavailable) return;
        long page = Environment.SystemPageSize;
        long start = (long)Pointer & ~(page - 1);
        long end = (long)Pointer + Length;
        try
        {
            Madvise((nint)start, (nuint)(end - start), MadvDontNeed);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _adviceUnavailable = true;
        }
    }

    /// <summary>Unmaps once no lease is held (immediately when none is); later <see cref="AddRef"/> calls throw.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _handle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int Madvise(nint address, nuint length, int advice);
}
