using System.Diagnostics;
using Retrieval.Bench.Evaluation;
using Retrieval.Tests.Support;
using Xunit.Abstractions;

namespace Retrieval.Tests.Encoders;

/// <summary>
/// SciFact sanity checks against published figures: exact BM25-through-sparse-vectors and exact MiniLM dense search must land
/// within 0.02 nDCG@10 of the published figures (BM25 0.665, BEIR paper; all-MiniLM-L6-v2 0.645, MTEB).
/// </summary>
public class SciFactCheckTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Bm25ThroughSparseVectorsMatchesTheBeirPaper()
    {
        var dir = TestData.SharedDataset("scifact");
        var clock = Stopwatch.StartNew();
        var r = BeirEvaluation.Run(dir, "bm25");
        output.WriteLine($"scifact bm25: nDCG@10 {r.NdcgAt10:F4} MRR@10 {r.MrrAt10:F4} R@100 {r.RecallAt100:F4} " +
            $"({r.QueryCount} queries, {r.DocumentCount} docs; encode {r.EncodeDocumentsSeconds:F1}s, search {r.SearchSeconds:F2}s, total {clock.Elapsed.TotalSeconds:F1}s)");
        Assert.Equal(300, r.QueryCount);
        Assert.Equal(5183, r.DocumentCount);
        Assert.InRange(r.NdcgAt10, 0.665 - 0.02, 0.665 + 0.02);
    }

    /// <summary>
    /// Encodes all 5,183 abstracts with MiniLM (reference-BERT tokenization, 256 word pieces): measured 910 s on the
    /// shared 2-core machine, so it runs only with RETRIEVAL_LONG_TESTS=1 (`retrieval eval --dataset scifact --mode
    /// dense` runs the same check). Measured nDCG@10 0.6492 (MRR@10 0.6056, recall@100 0.9333).
    /// </summary>
    [SkippableFact]
    public void MiniLmDenseMatchesMteb()
    {
        TestData.RequireLongTests("MiniLM-encodes 5,183 SciFact abstracts: about 15 minutes on 2 cores");
        var dir = TestData.SharedDataset("scifact");
        var clock = Stopwatch.StartNew();
        var r = BeirEvaluation.Run(dir, "dense");
        output.WriteLine($"scifact dense: nDCG@10 {r.NdcgAt10:F4} MRR@10 {r.MrrAt10:F4} R@100 {r.RecallAt100:F4} " +
            $"({r.QueryCount} queries, {r.DocumentCount} docs; encode docs {r.EncodeDocumentsSeconds:F1}s, queries {r.EncodeQueriesSeconds:F1}s, search {r.SearchSeconds:F2}s, total {clock.Elapsed.TotalSeconds:F1}s)");
        Assert.Equal(300, r.QueryCount);
        Assert.InRange(r.NdcgAt10, 0.645 - 0.02, 0.645 + 0.02);
    }
}
