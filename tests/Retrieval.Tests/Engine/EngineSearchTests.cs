using Retrieval.Index.Exact;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.Engine;

public sealed class EngineSearchTests
{
    /// <summary>
    /// Live updates over sealed + mutable segments (seal every 64 rows) with overwrites and deletes: every search
    /// equals brute force over the live records, by dense (each metric) and by sparse.
    /// </summary>
    [Theory]
    [InlineData(Metric.L2)]
    [InlineData(Metric.InnerProduct)]
    [InlineData(Metric.Cosine)]
    public async Task SearchEqualsBruteForceOverLiveRecords(Metric metric)
    {
        const int dim = 16, vocab = 50;
        var random = new Random(17);
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small(sealRows: 64));
        await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(dim, metric), new SparseFieldSchema(vocab)));
        var live = new Dictionary<long, (float[] Dense, SparseTerms Sparse)>();
        for (int round = 0; round < 6; round++)
        {
            var batch = new List<EngineRecord>();
            for (int i = 0; i < 60; i++)
            {
                long id = random.Next(250); // collisions overwrite older rows, in older segments too
                var record = new EngineRecord(RecordKey.Of(id), RandomVector(random, dim), RandomSparse(random, vocab, 1 + random.Next(6)));
                batch.Add(record);
                live[id] = (record.Dense!, record.Sparse!);
            }
            await engine.UpsertAsync("c", batch);
            var deletes = new List<RecordKey>();
            for (int i = 0; i < 10; i++)
            {
                long id = random.Next(250);
                deletes.Add(RecordKey.Of(id));
                live.Remove(id);
            }
            await engine.DeleteAsync("c", deletes);
        }
        Assert.Equal(live.Count, engine.Describe("c").RecordCount);
        Assert.True(engine.Describe("c").SegmentCount > 2);

        var ids = live.Keys.ToArray();
        var rows = new float[ids.Length * dim];
        for (int i = 0; i < ids.Length; i++) live[ids[i]].Dense.CopyTo(rows, i * dim);
        var exact = new ExactDenseIndex(DenseVectors.FromFloat32(rows, ids.Length, dim), metric);
        var offsets = new long[ids.Length + 1];
        var termList = new List<int>();
        var weightList = new List<float>();
        for (int i = 0; i < ids.Length; i++)
        {
            termList.AddRange(live[ids[i]].Sparse.Indices);
            weightList.AddRange(live[ids[i]].Sparse.Values);
            offsets[i + 1] = termList.Count;
        }
        var exactSparse = new ExactSparseIndex(new SparseMatrix(ids.Length, vocab, offsets, [.. termList], [.. weightList]));

        const int k = 10;
        var expectedIds = new int[k];
        var expectedScores = new float[k];
        for (int q = 0; q < 20; q++)
        {
            var query = RandomVector(random, dim);
            int found = exact.SearchOne(query, k, expectedIds, expectedScores);
            var hits = engine.Search("c", new SearchRequest { Vector = query, K = k, Mode = SearchMode.Dense });
            Assert.Equal(found, hits.Count);
            for (int i = 0; i < found; i++)
            {
                Assert.Equal(expectedScores[i], hits[i].Score, 1e-4f);
                // Ties aside, the same records: compare each hit's own exact score.
                Assert.Equal(expectedScores[i], Score(metric, query, live[hits[i].Key.Integer].Dense), 1e-4f);
            }

            var sparseQuery = RandomSparse(random, vocab, 3);
            found = exactSparse.SearchOne(new SparseVector(sparseQuery.Indices, sparseQuery.Values), k, expectedIds, expectedScores);
            hits = engine.Search("c", new SearchRequest { Sparse = sparseQuery, K = k, Mode = SearchMode.Sparse });
            Assert.Equal(found, hits.Count);
            for (int i = 0; i < found; i++)
            {
                Assert.Equal(expectedScores[i], hits[i].Score, 1e-4f);
                Assert.Equal(expectedScores[i], SparseDot.Dot(sparseQuery.Indices, sparseQuery.Values,
                    live[hits[i].Key.Integer].Sparse.Indices, live[hits[i].Key.Integer].Sparse.Values), 1e-4f);
            }
        }
    }

    private static float Score(Metric metric, float[] q, float[] x) => metric switch
    {
        Metric.L2 => System.Numerics.Tensors.TensorPrimitives.Distance(q, x) * System.Numerics.Tensors.TensorPrimitives.Distance(q, x),
        Metric.InnerProduct => System.Numerics.Tensors.TensorPrimitives.Dot(q, x),
        _ => System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(q, x),
    };

    /// <summary>Hand-computed fusion: dense ranks a,b,c; sparse ranks c,a (b has no shared term).</summary>
    [Fact]
    public async Task HybridFusionRrfAndWeighted()
    {
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        await engine.CreateCollectionAsync(new CollectionSchema("h", KeyKind.String, new DenseFieldSchema(2, Metric.InnerProduct), new SparseFieldSchema(10)));
        await engine.UpsertAsync("h",
        [
            new(RecordKey.Of("a"), [3, 0], new SparseTerms([1], [1f])),
            new(RecordKey.Of("b"), [2, 0], new SparseTerms([5], [9f])),
            new(RecordKey.Of("c"), [1, 0], new SparseTerms([1], [4f])),
        ]);
        var query = new SearchRequest { Vector = [1, 0], Sparse = new SparseTerms([1], [1f]), K = 3 };

        var rrf = engine.Search("h", query);
        // a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62.
        Assert.Equal(["a", "c", "b"], rrf.Select(h => h.Key.String).ToArray());
        Assert.Equal(1f / 61 + 1f / 62, rrf[0].Score, 1e-6f);
        Assert.Equal(1f / 62, rrf[2].Score, 1e-6f);

        var weighted = engine.Search("h", query with { Fusion = FusionMethod.WeightedScore, DenseWeight = 0.25f, SparseWeight = 1f });
        // dense normalised: a 1, b 0.5, c 0; sparse normalised: c 1, a 0.  a = 0.25, b = 0.125, c = 1.
        Assert.Equal(["c", "a", "b"], weighted.Select(h => h.Key.String).ToArray());
        Assert.Equal(1f, weighted[0].Score, 1e-6f);
        Assert.Equal(0.125f, weighted[2].Score, 1e-6f);

        var denseOnly = engine.Search("h", query with { Mode = SearchMode.Dense });
        Assert.Equal(["a", "b", "c"], denseOnly.Select(h => h.Key.String).ToArray());
        Assert.Equal(3f, denseOnly[0].Score);
    }

    [Fact]
    public async Task SearchValidationNamesTheField()
    {
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        await engine.CreateCollectionAsync(new CollectionSchema("d", Dense: new DenseFieldSchema(2, Metric.L2)));
        string Fails(SearchRequest r) => Assert.ThrowsAny<Retrieval.Index.Errors.RetrievalException>(() => engine.Search("d", r)).Message;
        Assert.Contains("query.k must be in [1, 10000], got 0", Fails(new SearchRequest { Vector = [1, 2], K = 0 }));
        Assert.Contains("query.vector has 3 dimensions", Fails(new SearchRequest { Vector = [1, 2, 3] }));
        Assert.Contains("query.vector[0] is NaN", Fails(new SearchRequest { Vector = [float.NaN, 2] }));
        Assert.Contains("needs a sparse field", Fails(new SearchRequest { Vector = [1, 2], Mode = SearchMode.Hybrid }));
        Assert.Contains("query has no vector, sparse vector or text", Fails(new SearchRequest()));
    }

    /// <summary>BM25 through the server-side sparse text encoder: the document sharing the rare query term ranks first.</summary>
    [Fact]
    public async Task SparseTextSearchUsesBm25()
    {
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        await engine.CreateCollectionAsync(new CollectionSchema("t", KeyKind.Integer, Sparse: new SparseFieldSchema(SparseFieldSchema.BertVocabularySize), TextEncoders: true));
        await engine.UpsertAsync("t",
        [
            new(RecordKey.Of(1), Text: "the cat sat on the mat"),
            new(RecordKey.Of(2), Text: "the dog chased a zebra across the field"),
            new(RecordKey.Of(3), Text: "the bird sang"),
        ]);
        var hits = engine.Search("t", new SearchRequest { Text = "zebra", K = 3 });
        Assert.Single(hits);
        Assert.Equal(2, hits[0].Key.Integer);
        Assert.True(hits[0].Score > 0);
        var the = engine.Search("t", new SearchRequest { Text = "the cat", K = 3 });
        Assert.Equal(1, the[0].Key.Integer);
        Assert.Equal(3, the.Count);
    }

    /// <summary>MiniLM through the engine: a paraphrase is nearest (cosine), and hybrid text search works end to end.</summary>
    [Fact]
    public async Task DenseTextSearchUsesMiniLm()
    {
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        await engine.CreateCollectionAsync(new CollectionSchema("m", KeyKind.Integer, new DenseFieldSchema(384, Metric.Cosine),
            new SparseFieldSchema(SparseFieldSchema.BertVocabularySize), TextEncoders: true));
        await engine.UpsertAsync("m",
        [
            new(RecordKey.Of(1), Text: "A man is playing a guitar on stage."),
            new(RecordKey.Of(2), Text: "The stock market fell sharply today."),
            new(RecordKey.Of(3), Text: "Kittens are sleeping in a basket."),
        ]);
        var dense = engine.Search("m", new SearchRequest { Text = "Someone performs music with an instrument", Mode = SearchMode.Dense, K = 3 });
        Assert.Equal(1, dense[0].Key.Integer);
        Assert.InRange(dense[0].Score, 0.2f, 1f);
        var hybrid = engine.Search("m", new SearchRequest { Text = "cats sleeping in a basket", K = 2 });
        Assert.Equal(3, hybrid[0].Key.Integer);
        var batch = engine.SearchBatch("m", [new SearchRequest { Text = "guitar", Mode = SearchMode.Dense, K = 1 }, new SearchRequest { Text = "stocks fell", Mode = SearchMode.Dense, K = 1 }]);
        Assert.Equal(1, batch[0][0].Key.Integer);
        Assert.Equal(2, batch[1][0].Key.Integer);
    }
}

public sealed class EngineCompactionTests
{
    /// <summary>Compaction while writers keep overwriting and deleting: afterwards one sealed segment plus the newer ones, and every key holds its last write.</summary>
    [Fact]
    public async Task CompactionMergesSealedSegmentsWhileWritesContinue()
    {
        const int dim = 8;
        var random = new Random(21);
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), EngineTestSupport.Small(sealRows: 40));
        await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(dim, Metric.L2)));
        var live = new Dictionary<long, float[]>();
        async Task Round(Random r)
        {
            var batch = new List<EngineRecord>();
            for (int i = 0; i < 30; i++)
            {
                long id = r.Next(150);
                var v = EngineTestSupport.RandomVector(r, dim);
                batch.Add(new EngineRecord(RecordKey.Of(id), v));
                lock (live) live[id] = v;
            }
            await engine.UpsertAsync("c", batch);
            long gone = r.Next(150);
            lock (live) live.Remove(gone);
            await engine.DeleteAsync("c", [RecordKey.Of(gone)]);
        }
        for (int i = 0; i < 10; i++) await Round(random);
        var before = engine.Describe("c");
        Assert.True(before.SegmentCount >= 4 && before.Tombstones > 0);

        var writer = Task.Run(async () => { var r = new Random(5); for (int i = 0; i < 10; i++) await Round(r); });
        int dropped = await engine.CompactAsync("c");
        await writer;
        Assert.True(dropped > 0);
        var after = engine.Describe("c");
        Assert.Equal(live.Count, after.RecordCount);

        void AllLiveRecordsFindThemselves()
        {
            foreach (var (id, v) in live)
            {
                Assert.Equal(v, engine.Get("c", RecordKey.Of(id), withVectors: true)!.Dense!);
                var hit = engine.Search("c", new SearchRequest { Vector = v, K = 1 });
                Assert.Equal(id, hit[0].Key.Integer);
                Assert.Equal(0f, hit[0].Score);
            }
        }
        AllLiveRecordsFindThemselves();

        // With no writes running, a second compaction leaves one sealed segment (plus the mutable one).
        await engine.CompactAsync("c");
        Assert.True(engine.Describe("c").SegmentCount <= 2, $"{engine.Describe("c").SegmentCount} segments after compaction");
        AllLiveRecordsFindThemselves();
        Assert.Equal(-1, await engine.CompactAsync("c"));
    }
}
