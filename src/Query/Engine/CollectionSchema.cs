using System.Text.Json;
using System.Text.Json.Serialization;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Engine;

/// <summary>How a collection identifies its records.</summary>
public enum KeyKind
{
    /// <summary>Any non-empty UTF-8 string up to <see cref="RecordKey.MaxStringBytes"/> bytes.</summary>
    String,
    /// <summary>A signed 64-bit integer.</summary>
    Integer,
}

/// <summary>What a record's payload holds; JSON payloads are checked to parse on upsert.</summary>
public enum PayloadKind
{
    Json,
    Bytes,
}

/// <summary>The dense vector field of a collection: every record carries one vector of <see cref="Dimension"/> floats.</summary>
public sealed record DenseFieldSchema(int Dimension, Metric Metric)
{
    /// <summary>How sealed segments index this field; null (and every schema stored before index options existed) means <see cref="DenseIndexOptions.Default"/>.</summary>
    public DenseIndexOptions? Index { get; init; }

    internal DenseIndexOptions IndexOrDefault => Index ?? DenseIndexOptions.Default;
}

/// <summary>
/// The sparse vector field of a collection: term ids in [0, <see cref="VocabularySize"/>), scored by inner product.
/// The server-side text encoder uses the bert-base-uncased vocabulary (30,522 terms).
/// </summary>
public sealed record SparseFieldSchema(int VocabularySize)
{
    public const int BertVocabularySize = 30522;

    /// <summary>How sealed segments index this field; null means <see cref="SparseIndexOptions.Default"/>.</summary>
    public SparseIndexOptions? Index { get; init; }

    internal SparseIndexOptions IndexOrDefault => Index ?? SparseIndexOptions.Default;
}

/// <summary>
/// A collection's schema, fixed at creation. <see cref="TextEncoders"/> lets upserts and searches carry text that
/// the engine embeds (MiniLM, 384-d, cosine) and/or tokenizes (BM25 weights over the bert-base-uncased vocabulary).
/// </summary>
public sealed record CollectionSchema(
    string Name,
    KeyKind Key = KeyKind.String,
    DenseFieldSchema? Dense = null,
    SparseFieldSchema? Sparse = null,
    PayloadKind Payload = PayloadKind.Json,
    bool TextEncoders = false)
{
    public const int MaxNameLength = 128;
    public const int MaxDimension = 65536;
    public const int MaxVocabularySize = 1 << 26;

    /// <summary>Throws InvalidInput naming the field for a bad name, dimension, vocabulary or encoder combination.</summary>
    public void Validate()
    {
        ValidateName(Name);
        if (!Enum.IsDefined(Key)) Guard.ThrowInvalid($"key kind {(int)Key} is unknown");
        if (!Enum.IsDefined(Payload)) Guard.ThrowInvalid($"payload kind {(int)Payload} is unknown");
        if (Dense is null && Sparse is null)
            Guard.ThrowInvalid($"collection '{Name}' needs a dense field, a sparse field or both");
        if (Dense is not null)
        {
            if (Dense.Dimension < 1 || Dense.Dimension > MaxDimension)
                Guard.ThrowInvalid($"dense.dimension must be in [1, {MaxDimension}], got {Dense.Dimension}");
            if (!Enum.IsDefined(Dense.Metric)) Guard.ThrowInvalid($"dense.metric {(int)Dense.Metric} is unknown");
            Dense.Index?.Validate();
        }
        Sparse?.Index?.Validate();
        if (Sparse is not null && (Sparse.VocabularySize < 1 || Sparse.VocabularySize > MaxVocabularySize))
            Guard.ThrowInvalid($"sparse.vocabulary_size must be in [1, {MaxVocabularySize}], got {Sparse.VocabularySize}");
        if (TextEncoders)
        {
            if (Dense is not null && Dense.Dimension != Encoders.MiniLmEncoder.Dimension)
                Guard.ThrowInvalid($"text_encoders needs dense.dimension {Encoders.MiniLmEncoder.Dimension} (MiniLM), got {Dense.Dimension}");
            if (Sparse is not null && Sparse.VocabularySize != SparseFieldSchema.BertVocabularySize)
                Guard.ThrowInvalid($"text_encoders needs sparse.vocabulary_size {SparseFieldSchema.BertVocabularySize} (bert-base-uncased), got {Sparse.VocabularySize}");
        }
    }

    /// <summary>Names are 1-128 characters of [A-Za-z0-9_.-], so they are safe in paths, URLs and logs.</summary>
    public static void ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name)) Guard.ThrowInvalid("collection name is empty");
        if (name.Length > MaxNameLength) Guard.ThrowInvalid($"collection name is {name.Length} characters, the limit is {MaxNameLength}");
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-' || c == '.'))
                Guard.ThrowInvalid($"collection name '{name}' has character '{c}'; use letters, digits, '_', '-' or '.'");
        }
    }

    internal byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, SchemaJson.Options);

    internal static CollectionSchema FromJson(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<CollectionSchema>(json, SchemaJson.Options)
        ?? throw new RetrievalException(ErrorKind.Corrupt, "stored collection schema is null");
}

internal static class SchemaJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower), new DenseIndexOptionsJson(), new SparseIndexOptionsJson() },
    };
}
