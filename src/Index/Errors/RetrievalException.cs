namespace Retrieval.Index.Errors;

/// <summary>The one exception type the engine throws on purpose; <see cref="Kind"/> says what class of error it is.</summary>
public class RetrievalException : Exception
{
    public RetrievalException(ErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public ErrorKind Kind { get; }
}

/// <summary>
/// A data file that cannot be read as what it claims to be. The message always names the file, where in it
/// (row and/or byte offset) the problem was found, what was expected and what was found.
/// </summary>
public sealed class DataFormatException : RetrievalException
{
    public DataFormatException(string path, string problem, long? row = null, long? byteOffset = null,
        ErrorKind kind = ErrorKind.Corrupt, Exception? inner = null)
        : base(kind, Compose(path, problem, row, byteOffset), inner)
    {
        FilePath = path;
        Problem = problem;
        Row = row;
        ByteOffset = byteOffset;
    }

    public string FilePath { get; }
    public string Problem { get; }
    /// <summary>Zero-based row (vector, document, line) where the problem was found, when known.</summary>
    public long? Row { get; }
    /// <summary>Byte offset in the file where the problem was found, when known.</summary>
    public long? ByteOffset { get; }

    private static string Compose(string path, string problem, long? row, long? byteOffset)
    {
        var where = (row, byteOffset) switch
        {
            (not null, not null) => $" at row {row} (byte offset {byteOffset})",
            (not null, null) => $" at row {row}",
            (null, not null) => $" at byte offset {byteOffset}",
            _ => "",
        };
        return $"{path}{where}: {problem}";
    }
}
