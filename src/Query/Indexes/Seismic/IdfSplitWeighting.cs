using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;

namespace Retrieval.Query.Indexes.Seismic;

/// <summary>
/// A score-preserving reweighting of BM25 text vectors for Seismic. The text encoder puts all of idf on the query
/// (document: BM25 saturation, query: count x idf). Moving sqrt(idf) of each term to the document side
/// (document: BM25 x sqrt(idf), query: count x sqrt(idf)) leaves every inner product unchanged, but lets the
/// document side carry term rarity: block summaries pruned to alpha of their L1 mass then keep the rare, decisive
/// terms instead of whichever terms happen to repeat, and static pruning ranks a list's postings by their actual
/// contribution. Query terms keep their idf order, so the query cut still picks the rarest terms first.
/// </summary>
public static class IdfSplitWeighting
{
    /// <summary>Document BM25 vectors x sqrt(idf) per term (a new matrix; the input is not modified).</summary>
    public static SparseMatrix Documents(SparseMatrix bm25Documents, CorpusStatistics statistics)
    {
        var scale = SqrtIdf(statistics);
        var values = new float[bm25Documents.Values.Length];
        for (int i = 0; i < values.Length; i++) values[i] = bm25Documents.Values[i] * scale[bm25Documents.Indices[i]];
        return new SparseMatrix(bm25Documents.RowCount, bm25Documents.ColumnCount, bm25Documents.RowOffsets, bm25Documents.Indices, values);
    }

    /// <summary>Query count x idf vectors divided by sqrt(idf) per term: count x sqrt(idf).</summary>
    public static SparseMatrix Queries(SparseMatrix idfQueries, CorpusStatistics statistics)
    {
        var scale = SqrtIdf(statistics);
        var values = new float[idfQueries.Values.Length];
        for (int i = 0; i < values.Length; i++) values[i] = idfQueries.Values[i] / scale[idfQueries.Indices[i]];
        return new SparseMatrix(idfQueries.RowCount, idfQueries.ColumnCount, idfQueries.RowOffsets, idfQueries.Indices, values);
    }

    private static float[] SqrtIdf(CorpusStatistics statistics)
    {
        var scale = new float[statistics.VocabularySize];
        for (int t = 0; t < scale.Length; t++) scale[t] = MathF.Sqrt(statistics.Idf(t));
        return scale;
    }
}
