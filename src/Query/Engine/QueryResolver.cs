using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// Turns a search request into the vectors it searches with: picks the mode (Auto becomes dense, sparse or hybrid by
/// what the request and the collection have), embeds or tokenizes its text as needed, and validates the vectors.
/// </summary>
internal sealed class QueryResolver(TextEncoders encoders)
{
    /// <summary>Which vectors a request searches with, encoding its text as needed.</summary>
    public (float[]? Dense, SparseTerms? Sparse, SearchMode Mode) Resolve(Collection target, SearchRequest request, string field)
    {
        var schema = target.Schema;
        float[]? dense = request.Vector;
        SparseTerms? sparse = request.Sparse?.Normalized();
        bool hasText = !string.IsNullOrEmpty(request.Text);
        if (hasText && !schema.TextEncoders)
            Guard.ThrowInvalid($"{field}.text given, but collection '{schema.Name}' was created without text encoders");
        var mode = request.Mode;
        if (mode == SearchMode.Auto)
        {
            bool canDense = schema.Dense is not null && (dense is not null || hasText);
            bool canSparse = schema.Sparse is not null && (sparse is not null || hasText);
            mode = canDense && canSparse ? SearchMode.Hybrid : canDense ? SearchMode.Dense : canSparse ? SearchMode.Sparse
                : throw new RetrievalException(ErrorKind.InvalidInput, $"{field} has no vector for the fields of collection '{schema.Name}'");
        }
        bool wantDense = mode is SearchMode.Dense or SearchMode.Hybrid;
        bool wantSparse = mode is SearchMode.Sparse or SearchMode.Hybrid;
        if (wantDense)
        {
            if (schema.Dense is null) Guard.ThrowInvalid($"{field}.mode {mode} needs a dense field; collection '{schema.Name}' has none");
            if (dense is null && hasText) dense = encoders.EncodeDense([request.Text!])[0];
            if (dense is null) Guard.ThrowInvalid($"{field}.vector is required for {mode.ToString().ToLowerInvariant()} search");
            if (dense.Length != schema.Dense.Dimension)
                Guard.ThrowInvalid($"{field}.vector has {dense.Length} dimensions, collection '{schema.Name}' expects {schema.Dense.Dimension}");
            for (int i = 0; i < dense.Length; i++)
                if (!float.IsFinite(dense[i])) Guard.ThrowInvalid($"{field}.vector[{i}] is {dense[i]}, not a finite number");
        }
        if (wantSparse)
        {
            if (schema.Sparse is null) Guard.ThrowInvalid($"{field}.mode {mode} needs a sparse field; collection '{schema.Name}' has none");
            if (sparse is null && hasText) sparse = encoders.EncodeQuery(request.Text!, target);
            if (sparse is null) Guard.ThrowInvalid($"{field}.sparse is required for {mode.ToString().ToLowerInvariant()} search");
            sparse.Validate(schema.Sparse.VocabularySize, $"{field}.sparse");
        }
        return (wantDense ? dense : null, wantSparse ? sparse : null, mode);
    }

    /// <summary>Encodes the texts of requests that need MiniLM in one batch (much faster than one at a time).</summary>
    public List<SearchRequest> PrepareDenseTexts(Collection target, IReadOnlyList<SearchRequest> requests)
    {
        var prepared = new List<SearchRequest>(requests.Count);
        var texts = new List<string>();
        var rows = new List<int>();
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i] ?? throw new RetrievalException(ErrorKind.InvalidInput, $"queries[{i}] is null");
            prepared.Add(r);
            if (target.Schema.TextEncoders && target.Schema.Dense is not null && r.Vector is null && !string.IsNullOrEmpty(r.Text)
                && r.Mode != SearchMode.Sparse)
            {
                texts.Add(r.Text);
                rows.Add(i);
            }
        }
        if (texts.Count > 1)
        {
            var vectors = encoders.EncodeDense(texts);
            for (int j = 0; j < rows.Count; j++) prepared[rows[j]] = prepared[rows[j]] with { Vector = vectors[j] };
        }
        return prepared;
    }
}
