using Retrieval.Index.Errors;

namespace Retrieval.Query.Encoders;

/// <summary>
/// The corpus-level numbers BM25 needs, fixed when documents are fitted: document count N, total and average
/// document length in tokens, and the document frequency df of every term id. Queries are weighted with
/// <see cref="Idf"/>; documents encoded later against these statistics use <see cref="AverageDocumentLength"/>.
/// </summary>
public sealed class CorpusStatistics
{
    public CorpusStatistics(int documentCount, long totalTokenCount, int[] documentFrequency)
    {
        ArgumentNullException.ThrowIfNull(documentFrequency);
        if (documentCount < 0) Guard.ThrowInvalid($"document count must be >= 0, got {documentCount}");
        if (totalTokenCount < 0) Guard.ThrowInvalid($"total token count must be >= 0, got {totalTokenCount}");
        for (int t = 0; t < documentFrequency.Length; t++)
        {
            if (documentFrequency[t] < 0 || documentFrequency[t] > documentCount)
                Guard.ThrowInvalid($"document frequency of term {t} is {documentFrequency[t]}, outside [0, {documentCount}]");
        }
        DocumentCount = documentCount;
        TotalTokenCount = totalTokenCount;
        DocumentFrequency = documentFrequency;
    }

    public int DocumentCount { get; }
    /// <summary>Sum of document lengths (tokens counted by the encoder, [UNK] excluded).</summary>
    public long TotalTokenCount { get; }
    /// <summary>Average document length in tokens (avgdl); 0 for an empty corpus.</summary>
    public double AverageDocumentLength => DocumentCount == 0 ? 0 : (double)TotalTokenCount / DocumentCount;
    /// <summary>df per term id; its length is the vocabulary size.</summary>
    public int[] DocumentFrequency { get; }
    public int VocabularySize => DocumentFrequency.Length;

    /// <summary>BM25 idf as Lucene/Anserini compute it: ln(1 + (N - df + 0.5) / (df + 0.5)), always > 0.</summary>
    public float Idf(int termId)
    {
        double df = DocumentFrequency[termId];
        return (float)Math.Log(1.0 + (DocumentCount - df + 0.5) / (df + 0.5));
    }
}
