using System.IO.Compression;
using Retrieval.Index.Errors;

namespace Retrieval.Bench.Corpora;

/// <summary>
/// Line-by-line reading of a text corpus file, decompressing when the name ends in .gz, with the line number kept
/// so every reader can name the exact line of a problem. A missing file is NotFound; a damaged gzip stream is a
/// <see cref="DataFormatException"/> at the line where reading stopped.
/// </summary>
internal sealed class TextFileLines : IDisposable
{
    private readonly StreamReader _reader;

    private TextFileLines(string path, StreamReader reader)
    {
        Path = path;
        _reader = reader;
    }

    public string Path { get; }

    /// <summary>One-based number of the line last returned by <see cref="TryRead"/>.</summary>
    public long LineNumber { get; private set; }

    public static TextFileLines Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new RetrievalException(ErrorKind.NotFound, $"{path}: file not found");
        Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            stream = new GZipStream(stream, CompressionMode.Decompress);
        // detectEncodingFromByteOrderMarks handles a UTF-8 BOM on the first line.
        return new TextFileLines(path, new StreamReader(stream, System.Text.Encoding.UTF8, true, 1 << 16));
    }

    public bool TryRead(out string line)
    {
        string? next;
        try
        {
            next = _reader.ReadLine();
        }
        catch (InvalidDataException e)
        {
            throw Error($"the gzip stream is damaged ({e.Message})", e);
        }
        if (next is null)
        {
            line = "";
            return false;
        }
        LineNumber++;
        line = next;
        return true;
    }

    /// <summary>An error at the current line: row = zero-based line index, and the one-based line in the text.</summary>
    public DataFormatException Error(string problem, Exception? inner = null) =>
        new(Path, $"line {LineNumber}: {problem}", row: Math.Max(0, LineNumber - 1), kind: ErrorKind.Corrupt, inner: inner);

    /// <summary>An error about the file as a whole (for example: it holds no records).</summary>
    public DataFormatException FileError(string problem) => new(Path, problem, kind: ErrorKind.Corrupt);

    public void Dispose() => _reader.Dispose();

    /// <summary>Short, printable excerpt of a bad line for error messages.</summary>
    public static string Excerpt(string line) =>
        line.Length <= 60 ? $"\"{line}\"" : $"\"{line[..60]}...\" ({line.Length} chars)";
}
