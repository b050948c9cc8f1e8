using Retrieval.Query.Encoders;

namespace Retrieval.Query.Engine;

/// <summary>
/// The engine's server-side text encoders: MiniLM (loaded on first use, ~90 MB of ONNX model) for dense vectors and
/// the BM25 sparse text encoder for sparse vectors. Document weights use the collection's live statistics with the
/// new batch counted in; query weights use its live idf.
/// </summary>
internal sealed class TextEncoders : IDisposable
{
    private readonly Lazy<MiniLmEncoder> _dense;
    private readonly SparseTextEncoder _sparse;
    private readonly object _denseGate = new();

    public TextEncoders(int threads)
    {
        _dense = new Lazy<MiniLmEncoder>(() => new MiniLmEncoder(MiniLmOptions.Default with { Threads = threads }));
        _sparse = new SparseTextEncoder(threads: threads);
    }

    /// <summary>384-d normalised MiniLM vectors, one per text. One encode runs at a time (the encoder uses all its threads per call).</summary>
    public float[][] EncodeDense(IReadOnlyList<string> texts)
    {
        Retrieval.Index.Vectors.DenseVectors vectors;
        lock (_denseGate) vectors = _dense.Value.Encode(texts);
        var rows = new float[texts.Count][];
        for (int i = 0; i < rows.Length; i++) rows[i] = vectors.Float32Row(i).ToArray();
        return rows;
    }

    public (SparseTerms[] Vectors, int[] Tokens) EncodeDocuments(IReadOnlyList<string> texts, Collection collection)
    {
        var counts = _sparse.CountTerms(texts, progress: null);
        long tokens = 0;
        var lengths = new int[counts.Length];
        for (int i = 0; i < counts.Length; i++)
        {
            lengths[i] = counts[i].Length;
            tokens += counts[i].Length;
        }
        var statistics = collection.TextStatistics(texts.Count, tokens, withDocumentFrequency: false);
        var matrix = _sparse.EncodeDocuments(texts, statistics);
        var rows = new SparseTerms[texts.Count];
        for (int i = 0; i < rows.Length; i++) rows[i] = Row(matrix, i);
        return (rows, lengths);
    }

    public SparseTerms EncodeQuery(string text, Collection collection)
    {
        var matrix = _sparse.EncodeQueries([text], collection.TextStatistics());
        return Row(matrix, 0);
    }

    private static SparseTerms Row(Retrieval.Index.Vectors.SparseMatrix matrix, int row)
    {
        var v = matrix.Row(row);
        return new SparseTerms(v.Indices.ToArray(), v.Values.ToArray());
    }

    public void Dispose()
    {
        if (_dense.IsValueCreated) _dense.Value.Dispose();
    }
}
