using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>A sparse vector as term ids (strictly increasing) and their weights.</summary>
public sealed record SparseTerms(int[] Indices, float[] Values)
{
    public static readonly SparseTerms Empty = new([], []);

    public int Count => Indices.Length;

    /// <summary>Throws InvalidInput naming <paramref name="field"/> for unsorted/duplicate/out-of-range terms or non-finite weights.</summary>
    internal void Validate(int vocabularySize, string field)
    {
        if (Indices.Length != Values.Length)
            Guard.ThrowInvalid($"{field} has {Indices.Length} indices but {Values.Length} values");
        int previous = -1;
        for (int i = 0; i < Indices.Length; i++)
        {
            int t = Indices[i];
            if (t < 0 || t >= vocabularySize) Guard.ThrowInvalid($"{field}.indices[{i}] = {t} is outside the vocabulary [0, {vocabularySize})");
            if (t <= previous) Guard.ThrowInvalid($"{field}.indices must be strictly increasing, found {t} after {previous}");
            if (!float.IsFinite(Values[i])) Guard.ThrowInvalid($"{field}.values[{i}] is {Values[i]}, not a finite number");
            previous = t;
        }
    }

    /// <summary>This vector with strictly increasing term ids: itself when they already are, else <see cref="Normalize"/>d.</summary>
    internal SparseTerms Normalized()
    {
        if (Indices.Length != Values.Length) return Normalize(Indices, Values);
        for (int i = 1; i < Indices.Length; i++) if (Indices[i] <= Indices[i - 1]) return Normalize(Indices, Values);
        return this;
    }

    /// <summary>Sorts by term id and sums duplicate terms, for input from clients that send bags of terms.</summary>
    public static SparseTerms Normalize(int[] indices, float[] values)
    {
        if (indices.Length != values.Length) Guard.ThrowInvalid($"sparse vector has {indices.Length} indices but {values.Length} values");
        bool sorted = true;
        for (int i = 1; i < indices.Length; i++) if (indices[i] <= indices[i - 1]) { sorted = false; break; }
        if (sorted) return new SparseTerms(indices, values);
        var ids = (int[])indices.Clone();
        var vals = (float[])values.Clone();
        Array.Sort(ids, vals);
        int w = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            if (w > 0 && ids[w - 1] == ids[i]) vals[w - 1] += vals[i];
            else { ids[w] = ids[i]; vals[w] = vals[i]; w++; }
        }
        return new SparseTerms(ids[..w], vals[..w]);
    }
}

/// <summary>
/// One record as a caller writes it: key, optional dense vector, sparse vector, text (embedded/tokenized by the
/// engine when the collection has text encoders and the vectors are not given) and payload bytes (UTF-8 JSON for
/// JSON collections).
/// </summary>
public sealed record EngineRecord(
    RecordKey Key,
    float[]? Dense = null,
    SparseTerms? Sparse = null,
    byte[]? Payload = null,
    string? Text = null);

/// <summary>A stored record as <see cref="RetrievalEngine.Get"/> returns it.</summary>
public sealed record StoredRecord(RecordKey Key, float[]? Dense, SparseTerms? Sparse, byte[]? Payload);
