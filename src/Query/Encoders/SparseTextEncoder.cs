using System.Diagnostics;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Encoders;

/// <summary>
/// Text -> sparse term-weight vectors over the bert-base-uncased vocabulary (30,522 columns) such that the sparse
/// dot product of a query and a document vector equals the BM25 score of the document for the query:
/// <list type="bullet">
/// <item>document d, term t with frequency tf: w(t,d) = tf (k1+1) / (tf + k1 (1 - b + b dl/avgdl)), dl = the
/// document's token count;</item>
/// <item>query: an inference-free bag of its tokens, weight = (count of t in the query) × idf(t), idf from
/// <see cref="CorpusStatistics.Idf"/>. Terms no fitted document contains are left out (they cannot match).</item>
/// </list>
/// Tokens come from <see cref="BertSparseTokenizer"/>; [UNK] is neither a term nor counted in dl. Rows are sorted
/// by term id. Tokenisation runs on <c>threads</c> threads (0 = all cores).
/// </summary>
public sealed class SparseTextEncoder
{
    private const int ProgressChunk = 1024;
    private readonly BertSparseTokenizer _tokenizer;
    private readonly int _threads;

    public SparseTextEncoder(BertSparseTokenizer? tokenizer = null, int threads = 0)
    {
        if (threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {threads}");
        _tokenizer = tokenizer ?? BertSparseTokenizer.BertBaseUncased;
        _threads = threads == 0 ? Environment.ProcessorCount : threads;
    }

    public int VocabularySize => _tokenizer.VocabularySize;

    /// <summary>
    /// Tokenizes the corpus once, computes its statistics (N, avgdl, df) and returns the BM25 document vectors
    /// with them. <paramref name="progress"/> receives the number of documents done so far.
    /// </summary>
    public (SparseMatrix Documents, CorpusStatistics Statistics) FitDocuments(IReadOnlyList<string> texts,
        Bm25Parameters? parameters = null, IProgress<long>? progress = null) => FitDocuments(texts, parameters, progress, out _);

    /// <summary>As <see cref="FitDocuments(IReadOnlyList{string}, Bm25Parameters?, IProgress{long}?)"/>, also counting the [UNK] tokens dropped.</summary>
    public (SparseMatrix Documents, CorpusStatistics Statistics) FitDocuments(IReadOnlyList<string> texts,
        Bm25Parameters? parameters, IProgress<long>? progress, out long unknownTokens)
    {
        ArgumentNullException.ThrowIfNull(texts);
        parameters ??= Bm25Parameters.Default;
        parameters.Validate();
        var counts = CountTerms(texts, progress);
        unknownTokens = UnknownTokens(counts);
        var df = new int[VocabularySize];
        long totalTokens = 0;
        foreach (var c in counts)
        {
            totalTokens += c.Length;
            foreach (int t in c.Terms) df[t]++;
        }
        var statistics = new CorpusStatistics(texts.Count, totalTokens, df);
        return (Bm25Weights(counts, statistics, parameters), statistics);
    }

    /// <summary>BM25 vectors of further documents, weighted with the statistics of an already fitted corpus.</summary>
    public SparseMatrix EncodeDocuments(IReadOnlyList<string> texts, CorpusStatistics statistics,
        Bm25Parameters? parameters = null, IProgress<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        CheckStatistics(statistics);
        parameters ??= Bm25Parameters.Default;
        parameters.Validate();
        return Bm25Weights(CountTerms(texts, progress), statistics, parameters);
    }

    /// <summary>Query vectors: each distinct token weighted by its count in the query times its idf.</summary>
    public SparseMatrix EncodeQueries(IReadOnlyList<string> texts, CorpusStatistics statistics) =>
        EncodeQueries(texts, statistics, out _);

    /// <summary>As <see cref="EncodeQueries(IReadOnlyList{string}, CorpusStatistics)"/>, also counting the [UNK] tokens dropped.</summary>
    public SparseMatrix EncodeQueries(IReadOnlyList<string> texts, CorpusStatistics statistics, out long unknownTokens)
    {
        ArgumentNullException.ThrowIfNull(texts);
        CheckStatistics(statistics);
        var counts = CountTerms(texts, progress: null);
        unknownTokens = UnknownTokens(counts);
        var offsets = new long[counts.Length + 1];
        for (int i = 0; i < counts.Length; i++)
        {
            int kept = 0;
            foreach (int t in counts[i].Terms) if (statistics.DocumentFrequency[t] > 0) kept++;
            offsets[i + 1] = offsets[i] + kept;
        }
        var indices = new int[offsets[^1]];
        var values = new float[offsets[^1]];
        for (int i = 0; i < counts.Length; i++)
        {
            long w = offsets[i];
            var c = counts[i];
            for (int j = 0; j < c.Terms.Length; j++)
            {
                int t = c.Terms[j];
                if (statistics.DocumentFrequency[t] == 0) continue;
                indices[w] = t;
                values[w] = c.Frequencies[j] * statistics.Idf(t);
                w++;
            }
        }
        return new SparseMatrix(counts.Length, VocabularySize, offsets, indices, values);
    }

    /// <summary>Distinct term ids of one text in increasing order, their frequencies, the text's length and its [UNK] tokens.</summary>
    internal readonly record struct TermCounts(int[] Terms, int[] Frequencies, int Length, int Unknown = 0);

    private static long UnknownTokens(TermCounts[] counts)
    {
        long unknown = 0;
        foreach (var c in counts) unknown += c.Unknown;
        return unknown;
    }

    internal TermCounts[] CountTerms(IReadOnlyList<string> texts, IProgress<long>? progress)
    {
        var result = new TermCounts[texts.Count];
        long done = 0;
        int chunks = (texts.Count + ProgressChunk - 1) / ProgressChunk;
        var options = new ParallelOptions { MaxDegreeOfParallelism = _threads };
        Parallel.For(0, chunks, options, () => new List<int>(512), (chunk, _, scratch) =>
        {
            int end = Math.Min(texts.Count, (chunk + 1) * ProgressChunk);
            for (int i = chunk * ProgressChunk; i < end; i++)
            {
                var text = texts[i] ?? throw new RetrievalException(ErrorKind.InvalidInput, $"text {i} is null");
                result[i] = Count(text, scratch);
            }
            long now = Interlocked.Add(ref done, end - chunk * ProgressChunk);
            progress?.Report(now);
            return scratch;
        }, _ => { });
        return result;
    }

    private TermCounts Count(string text, List<int> scratch)
    {
        scratch.Clear();
        int unknownId = _tokenizer.UnknownId, unknown = 0;
        foreach (int id in _tokenizer.EncodeToIds(text))
        {
            if (id != unknownId) scratch.Add(id);
            else unknown++;
        }
        var ids = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(scratch);
        ids.Sort();
        int distinct = 0;
        for (int i = 0; i < ids.Length; i++)
            if (i == 0 || ids[i] != ids[i - 1]) distinct++;
        var terms = new int[distinct];
        var freqs = new int[distinct];
        int w = -1;
        for (int i = 0; i < ids.Length; i++)
        {
            if (i == 0 || ids[i] != ids[i - 1]) terms[++w] = ids[i];
            freqs[w]++;
        }
        return new TermCounts(terms, freqs, ids.Length, unknown);
    }

    private SparseMatrix Bm25Weights(TermCounts[] counts, CorpusStatistics statistics, Bm25Parameters p)
    {
        var offsets = new long[counts.Length + 1];
        for (int i = 0; i < counts.Length; i++) offsets[i + 1] = offsets[i] + counts[i].Terms.Length;
        var indices = new int[offsets[^1]];
        var values = new float[offsets[^1]];
        double avgdl = statistics.AverageDocumentLength;
        for (int i = 0; i < counts.Length; i++)
        {
            var c = counts[i];
            // An empty fitted corpus has avgdl 0; any length then normalises to 1 (no length penalty).
            double lengthNorm = avgdl > 0 ? 1 - p.B + p.B * c.Length / avgdl : 1;
            double denominatorBase = p.K1 * lengthNorm;
            long w = offsets[i];
            for (int j = 0; j < c.Terms.Length; j++, w++)
            {
                double tf = c.Frequencies[j];
                indices[w] = c.Terms[j];
                values[w] = (float)(tf * (p.K1 + 1) / (tf + denominatorBase));
            }
        }
        Debug.Assert(counts.Length == 0 || indices.Length == offsets[^1]);
        return new SparseMatrix(counts.Length, VocabularySize, offsets, indices, values);
    }

    private void CheckStatistics(CorpusStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        if (statistics.VocabularySize != VocabularySize)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"corpus statistics cover {statistics.VocabularySize} terms, but this encoder's vocabulary has {VocabularySize}");
    }
}
