using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Sparse vectors read from a token-string format, with their external ids (row i of <see cref="Vectors"/>
/// is <see cref="Ids"/>[i]) and what could not be mapped: tokens absent from the vocabulary are dropped and
/// counted, so a report can say how much of the input was lost.
/// </summary>
public sealed class SparseDataset
{
    public SparseDataset(string[] ids, SparseMatrix vectors, long unknownTokenCount = 0, int distinctUnknownTokens = 0,
        IReadOnlyList<string>? unknownTokenSamples = null)
    {
        if (ids.Length != vectors.RowCount)
            Guard.ThrowInvalid($"{ids.Length} ids for {vectors.RowCount} sparse vectors");
        Ids = ids;
        Vectors = vectors;
        UnknownTokenCount = unknownTokenCount;
        DistinctUnknownTokens = distinctUnknownTokens;
        UnknownTokenSamples = unknownTokenSamples ?? [];
    }

    public string[] Ids { get; }
    public SparseMatrix Vectors { get; }
    public int Count => Ids.Length;

    /// <summary>Occurrences of tokens not in the vocabulary (an Anserini token repeated 3 times counts 3).</summary>
    public long UnknownTokenCount { get; }
    public int DistinctUnknownTokens { get; }
    /// <summary>The first few distinct unknown tokens, in order of appearance.</summary>
    public IReadOnlyList<string> UnknownTokenSamples { get; }
}
