using Retrieval.Bench.Evaluation;
using Retrieval.Index.Exact;
using Retrieval.Index.Formats;
using Retrieval.Index.Seismic;
using Retrieval.Query.Encoders;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

public class SeismicRealDataTests
{
    /// <summary>seismic-toy (real SPLADE vectors via the JSONL reader): lossless + exhaustive equals exact search.</summary>
    [SkippableFact]
    public void SeismicToyLosslessEqualsExact()
    {
        var dir = TestData.SharedDataset("seismic-toy");
        var vocabulary = BertVocabulary.BertBaseUncased;
        var docs = SeismicJsonlFile.Read(Path.Combine(dir, "documents.jsonl"), vocabulary);
        var queries = SeismicJsonlFile.Read(Path.Combine(dir, "queries.jsonl"), vocabulary);
        var exact = new ExactSparseIndex(docs.Vectors).Search(queries.Vectors, 10, threads: 1);
        var index = SeismicIndex.Build(docs.Vectors, SeismicBuildOptions.Lossless, docs.Ids);
        SeismicExactnessTests.AssertSameTopK(exact, index.Search(queries.Vectors, 10, SeismicSearchParameters.Exhaustive));
        // Measured: with the default build (float16, alpha 0.4) and an unbounded query cut at heap factor 1, recall@5 is 1.0.
        var approx = SeismicIndex.Build(docs.Vectors).Search(queries.Vectors, 5,
            new SeismicSearchParameters { QueryCut = 1000, HeapFactor = 1f });
        var truth = new ExactSparseIndex(docs.Vectors).Search(queries.Vectors, 5, threads: 1);
        Assert.Equal(1.0, NeighborRecall.RecallAtK(approx, truth.Ids, 5, 5).Mean, 6);
    }

    /// <summary>
    /// A real learned-sparse slice: the first 3,000 MS MARCO dev queries as SPLADE-v3 vectors are the documents, the
    /// first 100 as DistilSPLADE-max vectors the queries. Default build (global budget, alpha 0.4, float16).
    /// Measured recall@10 vs exact: 0.908 at query_cut 10 / heap_factor 1.1, 0.968 at 20 / 1.0, scoring about 86 and
    /// 116 of 3,000 documents per query. Floors sit a little below.
    /// </summary>
    [SkippableFact]
    public void SpladeSliceRecallAboveMeasuredFloor()
    {
        var (docVectors, queryVectors) = SeismicTestData.SpladeSlice(3000, 100);
        var truth = new ExactSparseIndex(docVectors).Search(queryVectors, 10, threads: 1);
        var index = SeismicIndex.Build(docVectors);

        var loose = index.Search(queryVectors, 10, new SeismicSearchParameters { QueryCut = 10, HeapFactor = 1.1f }, 0, out var looseStats);
        var tight = index.Search(queryVectors, 10, new SeismicSearchParameters { QueryCut = 20, HeapFactor = 1f }, 0, out var tightStats);
        double looseRecall = NeighborRecall.RecallAtK(loose, truth.Ids, 10, 10).Mean;
        double tightRecall = NeighborRecall.RecallAtK(tight, truth.Ids, 10, 10).Mean;
        Assert.True(looseRecall >= 0.88, $"recall@10 {looseRecall} at qc 10 / hf 1.1");
        Assert.True(tightRecall >= 0.95, $"recall@10 {tightRecall} at qc 20 / hf 1");
        // The point of the index: a small fraction of the collection is scored.
        Assert.True(looseStats.DocumentsScored < 0.05 * docVectors.RowCount * queryVectors.RowCount, $"{looseStats.DocumentsScored} docs scored");
        Assert.True(tightStats.DocumentsScored > looseStats.DocumentsScored);
    }

    /// <summary>
    /// The text path on a real slice: the first 10,000 passages (BM25 document vectors) and the first 200 queries
    /// (idf bags), a global budget of 20 postings per vocabulary term (cap 200 per list) and default search settings (query_cut 10, heap_factor 0.7). Measured recall@10 vs exact BM25:
    /// 0.999, scoring about 353 of the 10,000 passages per query (lists capped at 200 postings).
    /// </summary>
    [SkippableFact]
    public void PassagesTextSliceRecallAboveMeasuredFloor()
    {
        var dir = TestData.SharedDataset("passages");
        var passages = Retrieval.Bench.Corpora.TsvTextFile.Enumerate(Path.Combine(dir, "passages.tsv.gz")).Take(10_000).Select(r => r.Text).ToArray();
        var queryTexts = Retrieval.Bench.Corpora.TsvTextFile.Enumerate(Path.Combine(dir, "queries.tsv.gz")).Take(200).Select(r => r.Text).ToArray();
        var encoder = new SparseTextEncoder();
        var (docs, stats) = encoder.FitDocuments(passages);
        var queries = encoder.EncodeQueries(queryTexts, stats);
        var truth = new ExactSparseIndex(docs).Search(queries, 10, threads: 0);
        var index = SeismicIndex.Build(docs, SeismicBuildOptions.Default with { AvgPostings = 20, MaxFraction = 10 });
        var found = index.Search(queries, 10, SeismicSearchParameters.Default, 0, out var work);
        double recall = NeighborRecall.TieAwareRecallAtK(found, truth.Ids, truth.Scores, 10, 10, Retrieval.Index.Vectors.Metric.InnerProduct, 1e-3).Mean;
        double scored = work.DocumentsScored / (double)work.Queries;
        Assert.True(recall >= 0.98, $"recall@10 {recall}, {scored:F0} docs scored per query");
        Assert.True(scored < 0.08 * docs.RowCount, $"{scored:F0} documents scored per query");
    }
}
