namespace Retrieval.Index.Storage;

/// <summary>
/// A file written under a temporary name beside its target and renamed into place on <see cref="Commit"/>,
/// so a reader never sees a half-written file and a failure leaves the old file (or none), never a truncated
/// one. Disposing without committing deletes the temporary file.
/// </summary>
public sealed class AtomicFile : IDisposable
{
    private const int WriteBufferSize = 1 << 20;

    private readonly string _target;
    private readonly string _temp;
    private bool _committed;

    public AtomicFile(string path)
    {
        _target = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(_target);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        _temp = _target + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        Stream = new FileStream(_temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, WriteBufferSize);
    }

    public FileStream Stream { get; }

    /// <summary>Writes <paramref name="bytes"/> as the whole file, atomically (temporary name, flush, rename).</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        using var file = new AtomicFile(path);
        file.Stream.Write(bytes);
        file.Commit();
    }

    public void Commit()
    {
        Stream.Flush(flushToDisk: true);
        Stream.Dispose();
        File.Move(_temp, _target, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        if (_committed) return;
        Stream.Dispose();
        try { File.Delete(_temp); } catch (IOException) { }
    }
}
