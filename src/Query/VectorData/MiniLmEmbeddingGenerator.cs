using Microsoft.Extensions.AI;
using Retrieval.Query.Encoders;

namespace Retrieval.Query.VectorData;

/// <summary>
/// The engine's own all-MiniLM-L6-v2 encoder (384-d, runs locally from the bundled ONNX model) as a
/// Microsoft.Extensions.AI embedding generator, so VectorData records and searches can carry text instead of vectors.
/// Vectors are L2-normalised, as sentence-transformers produces them, and meant for cosine or dot-product search.
/// </summary>
public sealed class MiniLmEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly MiniLmEncoder _encoder;
    private readonly bool _ownsEncoder;
    private readonly EmbeddingGeneratorMetadata _metadata = new("retrieval-minilm", defaultModelId: "all-MiniLM-L6-v2", defaultModelDimensions: MiniLmEncoder.Dimension);

    public MiniLmEmbeddingGenerator(MiniLmOptions? options = null)
    {
        _encoder = new MiniLmEncoder(options);
        _ownsEncoder = true;
    }

    /// <summary>Shares an existing encoder (not disposed with this generator).</summary>
    public MiniLmEmbeddingGenerator(MiniLmEncoder encoder)
    {
        _encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
    }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is int dims && dims != MiniLmEncoder.Dimension)
            throw new ArgumentException($"all-MiniLM-L6-v2 produces {MiniLmEncoder.Dimension} dimensions, {dims} were requested");
        var texts = values as IReadOnlyList<string> ?? [.. values];
        for (int i = 0; i < texts.Count; i++)
            if (texts[i] is null) throw new ArgumentException($"text {i} is null");
        // ONNX inference is CPU-bound; keep it off the caller's (possibly request) thread.
        return Task.Run(() =>
        {
            var vectors = _encoder.Encode(texts, cancellationToken: cancellationToken);
            var result = new GeneratedEmbeddings<Embedding<float>>(texts.Count);
            for (int i = 0; i < texts.Count; i++)
                result.Add(new Embedding<float>(vectors.Float32Row(i).ToArray()) { ModelId = "all-MiniLM-L6-v2", CreatedAt = DateTimeOffset.UtcNow });
            return result;
        }, cancellationToken);
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return _metadata;
        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(_encoder) ? _encoder : null;
    }

    public void Dispose()
    {
        if (_ownsEncoder) _encoder.Dispose();
    }
}
