using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Documents;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Search.Payloads;
using Lucene.Net.Search.Similarities;
using Lucene.Net.Store;
using Lucene.Net.Util;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;
using LuceneDirectory = Lucene.Net.Store.Directory;

namespace Retrieval.Bench.Benchmarks.Seismic;

/// <summary>
/// Lucene.Net 4.8 as an exact sparse inner-product peer. Lucene 4.8 has no FeatureField, so each document term is
/// indexed once with its weight as a 4-byte float payload, and a query is a BooleanQuery of
/// <see cref="PayloadTermQuery"/> clauses (one per query term, boost = query weight) under a similarity that reduces
/// every factor except boost x payload to 1: idf, query norm, coord, tf, length norm (norms omitted) and sloppy
/// frequency (which would otherwise halve every score: a one-term span has match length 1 and 1/(1+1) = 0.5).
/// The score of a document is then sum over shared terms of q_t x d_t, the exact dot product.
/// </summary>
public sealed class LuceneSparsePeer : IDisposable
{
    private const string FieldName = "t";
    private readonly LuceneDirectory _directory;
    private readonly DirectoryReader _reader;
    private readonly IndexSearcher _searcher;
    private readonly string? _path;

    private LuceneSparsePeer(LuceneDirectory directory, string? path, double buildSeconds)
    {
        _directory = directory;
        _path = path;
        _reader = DirectoryReader.Open(directory);
        _searcher = new IndexSearcher(_reader) { Similarity = new DotProductSimilarity() };
        BuildSeconds = buildSeconds;
    }

    public double BuildSeconds { get; }

    /// <summary>Bytes of the Lucene index files on disk (0 for an in-memory directory).</summary>
    public long IndexBytes => _path is null ? 0 : new DirectoryInfo(_path).EnumerateFiles().Sum(f => f.Length);

    /// <summary>
    /// Indexes <paramref name="documents"/> (Lucene doc id = row) into <paramref name="path"/> (a fresh folder), or in
    /// memory when null, and merges to one segment so search does not pay for segment fan-out.
    /// </summary>
    public static LuceneSparsePeer Build(SparseMatrix documents, string? path)
    {
        var clock = Stopwatch.StartNew();
        LuceneDirectory directory = path is null ? new RAMDirectory() : FSDirectory.Open(path);
        var config = new IndexWriterConfig(LuceneVersion.LUCENE_48, new PreTokenizedOnly())
        {
            Similarity = new DotProductSimilarity(),
            OpenMode = OpenMode.CREATE,
            RAMBufferSizeMB = 256,
        };
        var fieldType = new FieldType(TextField.TYPE_NOT_STORED)
        {
            OmitNorms = true,
            IndexOptions = IndexOptions.DOCS_AND_FREQS_AND_POSITIONS,
        };
        fieldType.Freeze();
        using (var writer = new IndexWriter(directory, config))
        {
            var stream = new WeightedTermStream();
            for (int d = 0; d < documents.RowCount; d++)
            {
                stream.SetRow(documents.Row(d));
                writer.AddDocument(new Document { new Field(FieldName, stream, fieldType) });
            }
            writer.ForceMerge(1);
            writer.Commit();
        }
        return new LuceneSparsePeer(directory, path, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Top-k by exact dot product for one query (ties: lower doc id first, as Lucene orders them).</summary>
    public int SearchOne(SparseVector query, int k, Span<int> ids, Span<float> scores)
    {
        var boolean = new BooleanQuery(disableCoord: true);
        for (int i = 0; i < query.NonZeroCount; i++)
        {
            var clause = new PayloadTermQuery(new Term(FieldName, TermText(query.Indices[i])), new AveragePayloadFunction(), includeSpanScore: true)
            {
                Boost = query.Values[i],
            };
            boolean.Add(clause, Occur.SHOULD);
        }
        var top = _searcher.Search(boolean, k);
        int n = top.ScoreDocs.Length;
        for (int i = 0; i < n; i++)
        {
            ids[i] = top.ScoreDocs[i].Doc;
            scores[i] = top.ScoreDocs[i].Score;
        }
        ids[n..k].Fill(SearchResults.MissingId);
        scores[n..k].Fill(float.NaN);
        return n;
    }

    public void Dispose()
    {
        _reader.Dispose();
        _directory.Dispose();
    }

    internal static string TermText(int termId) => termId.ToString(CultureInfo.InvariantCulture);

    internal static float DecodePayload(BytesRef payload) =>
        BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32BigEndian(payload.Bytes.AsSpan(payload.Offset, 4)));

    /// <summary>Emits one token per document term, its text the term id and its payload the big-endian float weight.</summary>
    private sealed class WeightedTermStream : TokenStream
    {
        private readonly ICharTermAttribute _term;
        private readonly IPayloadAttribute _payload;
        private readonly List<(int Term, float Weight)> _row = [];
        private int _next;

        public WeightedTermStream()
        {
            _term = AddAttribute<ICharTermAttribute>();
            _payload = AddAttribute<IPayloadAttribute>();
        }

        public void SetRow(SparseVector row)
        {
            _row.Clear();
            for (int i = 0; i < row.NonZeroCount; i++) _row.Add((row.Indices[i], row.Values[i]));
            _next = 0;
        }

        public override bool IncrementToken()
        {
            if (_next >= _row.Count) return false;
            ClearAttributes();
            var (term, weight) = _row[_next++];
            _term.SetEmpty().Append(TermText(term));
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(bytes, BitConverter.SingleToInt32Bits(weight));
            _payload.Payload = new BytesRef(bytes);
            return true;
        }

        public override void Reset()
        {
            base.Reset();
            _next = 0;
        }
    }

    /// <summary>Fields arrive as token streams; the writer needs an analyzer object but never calls it.</summary>
    private sealed class PreTokenizedOnly : Analyzer
    {
        protected override TokenStreamComponents CreateComponents(string fieldName, TextReader reader) =>
            throw new NotSupportedException("the Lucene peer indexes pre-tokenized weighted terms only");
    }

    /// <summary>Every TF-IDF factor is 1 except the clause boost and the payload, so a clause scores boost x payload.</summary>
    private sealed class DotProductSimilarity : DefaultSimilarity
    {
        public override float Coord(int overlap, int maxOverlap) => 1f;
        public override float QueryNorm(float sumOfSquaredWeights) => 1f;
        public override float Tf(float freq) => 1f;
        public override float Idf(long docFreq, long numDocs) => 1f;
        public override float SloppyFreq(int distance) => 1f;
        public override float ScorePayload(int doc, int start, int end, BytesRef payload) => DecodePayload(payload);
    }
}
