using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Token string &lt;-&gt; term id mapping of a WordPiece-style vocabulary (vocab.txt: one token per line, the
/// line number is the id). Sparse formats that name terms by string (Seismic JSONL, Anserini pre-tokenized
/// topics) resolve them through this; the learned-sparse space is bert-base-uncased's 30,522 terms.
/// </summary>
public sealed class TermVocabulary
{
    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idsBySpan;
    private Utf8TokenTable? _utf8;

    public TermVocabulary(IReadOnlyList<string> tokens, string source = "vocabulary")
    {
        Source = source;
        _tokens = new string[tokens.Count];
        _ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
        {
            _tokens[i] = tokens[i];
            // The first occurrence wins, as in BERT's loader.
            _ids.TryAdd(tokens[i], i);
        }
        _idsBySpan = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public string Source { get; }
    public int Count => _tokens.Length;

    public bool TryGetId(string token, out int id) => _ids.TryGetValue(token, out id);

    /// <summary>Looks a token up without allocating a string (the sparse readers decode tokens into a reused buffer).</summary>
    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _idsBySpan.TryGetValue(token, out id);

    /// <summary>Looks up a UTF-8 token (as the JSONL and TSV readers see it) without decoding it.</summary>
    public bool TryGetId(ReadOnlySpan<byte> utf8Token, out int id) =>
        // Built on first use; two threads racing build equal tables, and either one may win.
        (_utf8 ??= new Utf8TokenTable(_tokens)).TryGetId(utf8Token, out id);

    public string Token(int id)
    {
        if ((uint)id >= (uint)_tokens.Length)
            Guard.ThrowInvalid($"term id {id} is outside the vocabulary {Source} (0..{_tokens.Length - 1})");
        return _tokens[id];
    }

    public static TermVocabulary Read(Stream stream, string source)
    {
        var tokens = new List<string>(32_000);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line) tokens.Add(line.TrimEnd('\r'));
        if (tokens.Count == 0) throw new DataFormatException(source, "vocabulary is empty: expected one token per line");
        return new TermVocabulary(tokens, source);
    }

    public static TermVocabulary ReadFile(string path)
    {
        if (!File.Exists(path)) throw new RetrievalException(ErrorKind.NotFound, $"vocabulary file not found: {path}");
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }
}
