using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>Opening data files the same way in every reader: a missing file is NotFound naming the path.</summary>
internal static class FormatFiles
{
    /// <summary>Large sequential reads go straight into the caller's array, so FileStream's own buffer only adds a copy.</summary>
    private const int BulkReadBufferSize = 0;
    private const int TextBufferSize = 1 << 16;

    public static void RequireExists(string path)
    {
        if (!File.Exists(path))
            throw new RetrievalException(ErrorKind.NotFound, $"data file not found: {path}");
    }

    public static bool IsGzip(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    public static SafeFileHandle OpenHandle(string path)
    {
        RequireExists(path);
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        }
        catch (FileNotFoundException e)
        {
            throw new RetrievalException(ErrorKind.NotFound, $"data file not found: {path}", e);
        }
    }

    public static FileStream OpenSequential(string path, long position = 0)
    {
        RequireExists(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BulkReadBufferSize,
            FileOptions.SequentialScan);
        if (position != 0) stream.Position = position;
        return stream;
    }

    /// <summary>A text-ish stream, transparently gunzipped when the name ends in .gz.</summary>
    public static Stream OpenMaybeGzip(string path)
    {
        RequireExists(path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, TextBufferSize,
            FileOptions.SequentialScan);
        return IsGzip(path) ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: false) : file;
    }

    /// <summary>Reads exactly buffer.Length bytes at offset, or returns how many were available.</summary>
    public static int ReadAt(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer[total..], offset + total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>Fills as much of buffer as the stream holds; fewer bytes than asked means end of data.</summary>
    public static int ReadFully(Stream stream, Span<byte> buffer) => stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
}
