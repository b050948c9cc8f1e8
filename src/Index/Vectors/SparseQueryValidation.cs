using Retrieval.Index.Errors;

namespace Retrieval.Index.Vectors;

/// <summary>
/// The checks every sparse index runs on a query before searching: matching lengths, term ids inside the index
/// vocabulary and strictly increasing (duplicates named as such), finite weights, and, where the index needs it,
/// non-negative weights. One home so exact and approximate sparse search reject the same queries the same way.
/// </summary>
internal static class SparseQueryValidation
{
    /// <param name="row">Query row for messages; negative for a single query.</param>
    /// <param name="negativeWeightsReason">Null when negative weights are allowed; otherwise why they are not.</param>
    public static void Validate(SparseVector query, int vocabularySize, int row, string? negativeWeightsReason = null)
    {
        var indices = query.Indices;
        var values = query.Values;
        if (indices.Length != values.Length)
            Guard.ThrowInvalid($"{QueryName(row)} has {indices.Length} term ids but {values.Length} weights");
        int previous = -1;
        for (int i = 0; i < indices.Length; i++)
        {
            int term = indices[i];
            if ((uint)term >= (uint)vocabularySize)
                Guard.ThrowInvalid($"{QueryName(row)}: term id {term} is outside the index vocabulary [0, {vocabularySize}) " +
                    "(the query was encoded with a larger vocabulary than the documents)");
            if (term == previous)
                Guard.ThrowInvalid($"{QueryName(row)}: duplicate term id {term} (each term must appear once per query)");
            if (term < previous)
                Guard.ThrowInvalid($"{QueryName(row)}: term ids must be strictly increasing, found {term} after {previous}");
            float weight = values[i];
            if (!float.IsFinite(weight))
                Guard.ThrowInvalid($"{QueryName(row)}: term {term} has non-finite weight {weight}");
            if (weight < 0 && negativeWeightsReason is not null)
                Guard.ThrowInvalid($"{QueryName(row)}: term {term} has negative weight {weight} ({negativeWeightsReason})");
            previous = term;
        }
    }

    public static string QueryName(int row) => row >= 0 ? $"query row {row}" : "query";
}
