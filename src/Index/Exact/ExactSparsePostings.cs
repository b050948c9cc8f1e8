using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Exact;

/// <summary>
/// The in-memory inverted index behind <see cref="ExactSparseIndex"/>: for every term, the documents that contain it
/// (ascending doc ids) and their weights, stored struct-of-arrays as one doc-id array and one weight array sliced by
/// <see cref="TermOffsets"/> (the CSC transpose of the documents' CSR matrix).
/// </summary>
/// <remarks>
/// Built in two passes over the documents (count per term, prefix-sum, then fill) so no per-term list is ever
/// allocated or grown; the whole index is three arrays. Filling rows in order keeps each term's doc ids ascending
/// without a sort.
/// </remarks>
internal sealed class ExactSparsePostings
{
    private ExactSparsePostings(long[] termOffsets, int[] docIds, float[] weights)
    {
        TermOffsets = termOffsets;
        DocIds = docIds;
        Weights = weights;
    }

    /// <summary>Term t's postings are entries [TermOffsets[t], TermOffsets[t+1]); length = vocabulary size + 1.</summary>
    public long[] TermOffsets { get; }
    public int[] DocIds { get; }
    public float[] Weights { get; }

    public int VocabularySize => TermOffsets.Length - 1;

    public ReadOnlySpan<float> WeightsOf(int term) =>
        Weights.AsSpan((int)TermOffsets[term], (int)(TermOffsets[term + 1] - TermOffsets[term]));

    /// <summary>
    /// Transposes the documents into postings. Rejects (InvalidInput) a term id outside [0, ColumnCount), ids not
    /// strictly increasing within a document, and NaN or infinite weights, naming the document row and term.
    /// </summary>
    public static ExactSparsePostings Build(SparseMatrix documents)
    {
        int vocabulary = documents.ColumnCount;
        int[] indices = documents.Indices;
        float[] values = documents.Values;
        long[] rowOffsets = documents.RowOffsets;

        // Pass 1: validate and count postings per term (counts land in offsets[t + 1] for the prefix sum).
        var offsets = new long[vocabulary + 1];
        for (int row = 0; row < documents.RowCount; row++)
        {
            int start = (int)rowOffsets[row], end = (int)rowOffsets[row + 1];
            int previous = -1;
            for (int e = start; e < end; e++)
            {
                int term = indices[e];
                if ((uint)term >= (uint)vocabulary)
                    Guard.ThrowInvalid(
                        $"document row {row}: term id {term} is outside the vocabulary [0, {vocabulary})");
                if (term <= previous)
                    Guard.ThrowInvalid(
                        $"document row {row}: term ids must be strictly increasing, found {term} after {previous}");
                if (!float.IsFinite(values[e]))
                    Guard.ThrowInvalid($"document row {row}: term {term} has non-finite weight {values[e]}");
                previous = term;
                offsets[term + 1]++;
            }
        }
        for (int t = 0; t < vocabulary; t++) offsets[t + 1] += offsets[t];

        // Pass 2: fill. cursor[t] is the next free slot of term t.
        long nnz = offsets[vocabulary];
        var docIds = new int[nnz];
        var weights = new float[nnz];
        var cursor = new long[vocabulary];
        Array.Copy(offsets, cursor, vocabulary);
        for (int row = 0; row < documents.RowCount; row++)
        {
            int start = (int)rowOffsets[row], end = (int)rowOffsets[row + 1];
            for (int e = start; e < end; e++)
            {
                long slot = cursor[indices[e]]++;
                docIds[slot] = row;
                weights[slot] = values[e];
            }
        }
        return new ExactSparsePostings(offsets, docIds, weights);
    }
}
