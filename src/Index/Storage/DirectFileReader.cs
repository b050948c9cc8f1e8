using Microsoft.Win32.SafeHandles;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Storage;

/// <summary>
/// Positional reads from one file, optionally bypassing the page cache (O_DIRECT on Linux) so that a read
/// is a real device read. With direct I/O, offsets, lengths and destination addresses must be multiples
/// of <see cref="AlignedBuffer.Alignment"/>: callers read whole pages into <see cref="AlignedBuffer"/>s.
/// Counts bytes and reads (thread-safe) for the per-query I/O figures.
/// </summary>
internal sealed class DirectFileReader : IDisposable
{
    /// <summary>Linux O_DIRECT; .NET passes unknown FileOptions bits through to open(2) on Unix.</summary>
    private const FileOptions LinuxDirect = (FileOptions)0x4000;

    private readonly SafeFileHandle _handle;
    private long _bytesRead;
    private long _reads;

    public DirectFileReader(string path, bool direct)
    {
        Path = path;
        Direct = direct && OperatingSystem.IsLinux();
        try
        {
            _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read,
                Direct ? LinuxDirect : FileOptions.RandomAccess);
        }
        catch (IOException e) when (Direct)
        {
            throw new RetrievalException(ErrorKind.Incompatible,
                $"cannot open {path} with O_DIRECT (the file system may not support direct I/O; tmpfs does not): {e.Message}", e);
        }
        Length = RandomAccess.GetLength(_handle);
    }

    public string Path { get; }
    public bool Direct { get; }
    public long Length { get; }
    public long BytesRead => Interlocked.Read(ref _bytesRead);
    public long ReadCount => Interlocked.Read(ref _reads);

    /// <summary>Reads exactly destination.Length bytes at <paramref name="offset"/> (looping over short reads).</summary>
    public void ReadExactly(Span<byte> destination, long offset)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(_handle, destination[done..], offset + done);
            if (n <= 0)
                throw new DataFormatException(Path, $"unexpected end of file reading {destination.Length} bytes at offset {offset} (truncated?)",
                    byteOffset: offset + done);
            done += n;
        }
        Interlocked.Add(ref _bytesRead, destination.Length);
        Interlocked.Increment(ref _reads);
    }

    public void Dispose() => _handle.Dispose();
}
