using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Formats;
using Retrieval.Index.Seismic;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.Engine;

/// <summary>Sealed segments indexed by SPANN and Seismic (chosen by the schema), persisted and reopened without a rebuild.</summary>
public sealed class EngineSegmentIndexTests
{
    internal static float[] TinyDense(out int count, int dim = 128)
    {
        var vectors = DenseVectorFile.Read(TestData.Fixture("tiny-dense", "base.u8bin")).ToFloat32();
        count = vectors.Count;
        var values = new float[count * dim];
        for (int r = 0; r < count; r++) vectors.CopyRowTo(r, values.AsSpan(r * dim, dim));
        return values;
    }

    private static CollectionSchema SpannSchema(string name) => new(name, KeyKind.Integer,
        new DenseFieldSchema(128, Metric.L2) { Index = new DenseIndexOptions { MinRows = 100, Search = new SpannSearchParameters { Heads = 32 } } });

    /// <summary>
    /// tiny-dense (2,000 real SIFT rows) in four sealed SPANN segments with 10% deleted: top-10 recall against exact
    /// search over the live rows >= 0.9, no deleted id ever returned; after a restart the segments reopen with no
    /// index build and answer identically.
    /// </summary>
    [Fact]
    public async Task SpannSegmentsMatchExactAndReopenWithoutRebuild()
    {
        const int dim = 128, k = 10;
        var values = TinyDense(out int count);
        var dir = TestData.TempDirectory();
        var options = Small(sealRows: 500) with { AutoCompact = false };
        var deleted = new HashSet<long>();
        var random = new Random(3);
        while (deleted.Count < 200) deleted.Add(random.Next(count));
        List<long[]> before;
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.CreateCollectionAsync(SpannSchema("c"));
            for (int start = 0; start < count; start += 250)
            {
                var batch = new List<EngineRecord>();
                for (int r = start; r < start + 250; r++) batch.Add(new EngineRecord(RecordKey.Of(r), values.AsSpan(r * dim, dim).ToArray()));
                await engine.UpsertAsync("c", batch);
            }
            await engine.DeleteAsync("c", deleted.Select(d => RecordKey.Of(d)).ToList());
            await engine.WaitForBackgroundWorkAsync();
            var info = engine.Describe("c");
            Assert.Equal(4, info.IndexedSegments);
            Assert.Equal(4, engine.SegmentIndexBuilds);
            Assert.Equal(count - deleted.Count, info.RecordCount);
            before = SearchAll(engine, values, dim, k);
        }

        // Exact over the live rows: queries are rows 1, 41, 81, ... (live ones); their own row is the top hit.
        var liveIds = Enumerable.Range(0, count).Where(r => !deleted.Contains(r)).ToArray();
        var liveValues = new float[liveIds.Length * dim];
        for (int i = 0; i < liveIds.Length; i++) values.AsSpan(liveIds[i] * dim, dim).CopyTo(liveValues.AsSpan(i * dim));
        var exact = new ExactDenseIndex(DenseVectors.FromFloat32(liveValues, liveIds.Length, dim), Metric.L2);
        int hits = 0, total = 0;
        var queries = Queries(count);
        for (int q = 0; q < queries.Count; q++)
        {
            var ids = new int[k];
            var scores = new float[k];
            exact.SearchOne(values.AsSpan(queries[q] * dim, dim), k, ids, scores);
            var truth = ids.Select(i => (long)liveIds[i]).ToHashSet();
            foreach (long id in before[q]) { Assert.DoesNotContain(id, deleted); if (truth.Contains(id)) hits++; }
            total += k;
        }
        Assert.True(hits >= 0.9 * total, $"recall {hits}/{total}");

        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(0, engine.SegmentIndexBuilds);
            Assert.Equal(4, engine.Describe("c").IndexedSegments);
            Assert.Equal(new DenseIndexOptions { MinRows = 100, Search = new SpannSearchParameters { Heads = 32 } }, engine.Describe("c").Schema.Dense!.Index);
            Assert.Equal(count - deleted.Count, engine.Describe("c").RecordCount);
            var after = SearchAll(engine, values, dim, k);
            for (int q = 0; q < before.Count; q++) Assert.Equal(before[q], after[q]);
        }
    }

    [Fact]
    public async Task BadIndexSettingsAreRejectedAndOldSchemasGetDefaults()
    {
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        var e = await Assert.ThrowsAsync<RetrievalException>(() => engine.CreateCollectionAsync(new CollectionSchema("x", KeyKind.Integer,
            new DenseFieldSchema(8, Metric.L2) { Index = new DenseIndexOptions { MinRows = 0 } })));
        Assert.Contains("dense.index.min_rows", e.Message);
        e = await Assert.ThrowsAsync<RetrievalException>(() => engine.CreateCollectionAsync(new CollectionSchema("y", KeyKind.Integer,
            Sparse: new SparseFieldSchema(10) { Index = new SparseIndexOptions { Search = new SeismicSearchParameters { QueryCut = 0 } } })));
        Assert.Contains("QueryCut", e.Message);
        // A schema stored before index settings existed has none: the defaults apply.
        var old = System.Text.Json.JsonSerializer.Deserialize<CollectionSchema>("""{"name":"o","key":"integer","dense":{"dimension":8,"metric":"l2"}}""",
            new System.Text.Json.JsonSerializerOptions
            {
                PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
                Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.SnakeCaseLower) }
            })!;
        Assert.Null(old.Dense!.Index);
        await engine.CreateCollectionAsync(old);
        Assert.Single(engine.ListCollections());
    }

    /// <summary>
    /// The index options are stored flat under the names schemas have always used (a schema written before the
    /// options embedded the SPANN/Seismic records reads back, and is written back byte for byte); any other build
    /// option or search parameter goes under "build"/"search" and round-trips too.
    /// </summary>
    [Fact]
    public void IndexOptionsKeepTheirStoredShape()
    {
        const string stored = """{"name":"c","key":"integer","dense":{"dimension":8,"metric":"l2","index":{"kind":"spann","min_rows":100,"head_ratio":0.2,"replica_count":4,"posting_pages":8,"storage":"float16","search_heads":32,"prune_epsilon":0.5,"in_memory":false}},"sparse":{"vocabulary_size":10,"index":{"kind":"exact","min_rows":50,"avg_postings":300,"centroid_fraction":0.2,"summary_energy":0.5,"query_cut":7,"heap_factor":0.8,"heap_factor_growth":0.1,"knn_neighbours":4}},"payload":"json","text_encoders":false}""";
        var schema = CollectionSchema.FromJson(System.Text.Encoding.UTF8.GetBytes(stored));
        var dense = schema.Dense!.Index!;
        Assert.Equal(100, dense.MinRows);
        Assert.Equal(new SpannBuildOptions { HeadRatio = 0.2, ReplicaCount = 4, PostingPages = 8, Storage = SpannStorage.Float16 }, dense.Build);
        Assert.Equal(new SpannSearchParameters { Heads = 32, PruneEpsilon = 0.5 }, dense.Search);
        Assert.False(dense.InMemory);
        var sparse = schema.Sparse!.Index!;
        Assert.Equal(SparseIndexKind.Exact, sparse.Kind);
        Assert.Equal(new SeismicBuildOptions { AvgPostings = 300, CentroidFraction = 0.2, SummaryEnergy = 0.5, KnnNeighbours = 4 }, sparse.Build);
        Assert.Equal(new SeismicSearchParameters { QueryCut = 7, HeapFactor = 0.8f, HeapFactorGrowth = 0.1f }, sparse.Search);
        Assert.Equal(stored, System.Text.Encoding.UTF8.GetString(schema.ToJson()));

        var richer = schema with
        {
            Dense = schema.Dense with { Index = dense with { Build = dense.Build with { ClosureEpsilon = 0.5 }, Search = dense.Search with { RerankFactor = 2 } } },
            Sparse = schema.Sparse with { Index = sparse with { Build = sparse.Build with { SummaryMaxEntries = 12 }, Search = sparse.Search with { KnnExpand = 3 } } },
        };
        var json = System.Text.Encoding.UTF8.GetString(richer.ToJson());
        Assert.Contains("\"build\":{\"closure_epsilon\":0.5}", json);
        Assert.Contains("\"search\":{\"knn_expand\":3}", json);
        Assert.Equal(richer, CollectionSchema.FromJson(richer.ToJson()));
    }

    /// <summary>A damaged persisted SPANN index is rebuilt on open (from the record store) and search stays correct.</summary>
    [Fact]
    public async Task DamagedSegmentIndexIsRebuiltOnOpen()
    {
        const int dim = 128;
        var values = TinyDense(out _);
        var dir = TestData.TempDirectory();
        var options = Small(sealRows: 300) with { AutoCompact = false };
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.CreateCollectionAsync(SpannSchema("c"));
            var batch = new List<EngineRecord>();
            for (int r = 0; r < 300; r++) batch.Add(new EngineRecord(RecordKey.Of(r), values.AsSpan(r * dim, dim).ToArray()));
            await engine.UpsertAsync("c", batch);
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(1, engine.Describe("c").IndexedSegments);
        }
        var heads = Directory.GetFiles(Path.Combine(dir, "segments"), SpannFormat.HeadsFile, SearchOption.AllDirectories).Single();
        var bytes = File.ReadAllBytes(heads);
        bytes[^5] ^= 0xFF;
        File.WriteAllBytes(heads, bytes);
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(1, engine.SegmentIndexBuilds);
            Assert.Equal(300, engine.Describe("c").RecordCount);
            var hits = engine.Search("c", new SearchRequest { Vector = values.AsSpan(17 * dim, dim).ToArray(), K = 1 });
            Assert.Equal(17, hits[0].Key.Integer);
        }
    }

    /// <summary>
    /// Compacting SPANN segments with a third of their rows deleted merges them into one SPANN segment; the
    /// checkpoint after it deletes the old segment directories; recall against exact stays >= 0.9; a reopen
    /// reuses the merged index.
    /// </summary>
    [Fact]
    public async Task CompactedSpannSegmentsReplaceTheirDirectories()
    {
        const int dim = 128, rows = 1200, k = 10;
        var values = TinyDense(out _);
        var dir = TestData.TempDirectory();
        var options = Small(sealRows: 300) with { AutoCompact = false };
        var random = new Random(8);
        var deleted = new HashSet<long>();
        while (deleted.Count < 400) deleted.Add(random.Next(rows));
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.CreateCollectionAsync(SpannSchema("c"));
            var batch = new List<EngineRecord>();
            for (int r = 0; r < rows; r++) batch.Add(new EngineRecord(RecordKey.Of(r), values.AsSpan(r * dim, dim).ToArray()));
            await engine.UpsertAsync("c", batch);
            await engine.DeleteAsync("c", deleted.Select(d => RecordKey.Of(d)).ToList());
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(4, engine.Describe("c").IndexedSegments);
            Assert.Equal(400, await engine.CompactAsync("c"));
            Assert.Equal(1, engine.Describe("c").IndexedSegments);
            Assert.Equal(0, engine.Describe("c").Tombstones);
            await engine.CheckpointAsync();
            var segmentDirs = Directory.GetDirectories(Path.Combine(dir, "segments"), "*", SearchOption.TopDirectoryOnly).SelectMany(Directory.GetDirectories).ToArray();
            Assert.Single(segmentDirs);

            var liveIds = Enumerable.Range(0, rows).Where(r => !deleted.Contains(r)).ToArray();
            var liveValues = new float[liveIds.Length * dim];
            for (int i = 0; i < liveIds.Length; i++) values.AsSpan(liveIds[i] * dim, dim).CopyTo(liveValues.AsSpan(i * dim));
            var exact = new ExactDenseIndex(DenseVectors.FromFloat32(liveValues, liveIds.Length, dim), Metric.L2);
            int hits = 0, total = 0;
            for (int q = 0; q < rows; q += 37)
            {
                var ids = new int[k];
                exact.SearchOne(values.AsSpan(q * dim, dim), k, ids, new float[k]);
                var truth = ids.Select(i => (long)liveIds[i]).ToHashSet();
                var found = engine.Search("c", new SearchRequest { Vector = values.AsSpan(q * dim, dim).ToArray(), K = k });
                Assert.Equal(k, found.Count);
                foreach (var h in found) { Assert.DoesNotContain(h.Key.Integer, deleted); if (truth.Contains(h.Key.Integer)) hits++; }
                total += k;
            }
            Assert.True(hits >= 0.9 * total, $"recall {hits}/{total}");
        }
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(0, engine.SegmentIndexBuilds);
            Assert.Equal(1, engine.Describe("c").IndexedSegments);
            Assert.Equal(rows - 400, engine.Describe("c").RecordCount);
        }
    }

    /// <summary>
    /// Random sparse documents in three sealed Seismic segments with deletes: recall@10 against exact inner product
    /// over the live documents >= 0.9 and no deleted id returned, with and without a kNN graph per segment (graph
    /// neighbours can be deleted documents: they must be filtered like any other).
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public async Task SeismicSegmentsMatchExactAndFilterTombstones(int knnNeighbours)
    {
        const int vocab = 3000, docs = 1500, k = 10;
        var random = new Random(11);
        var documents = new SparseTerms[docs];
        for (int d = 0; d < docs; d++) documents[d] = RandomSparse(random, vocab, 20 + random.Next(30));
        var schema = new CollectionSchema("s", KeyKind.Integer, Sparse: new SparseFieldSchema(vocab) { Index = new SparseIndexOptions { MinRows = 100, Build = new SeismicBuildOptions { KnnNeighbours = knnNeighbours }, Search = new SeismicSearchParameters { QueryCut = 50, HeapFactor = 0.9f } } });
        string root = TestData.TempDirectory();
        await using var engine = RetrievalEngine.Open(root, Small(sealRows: 500) with { AutoCompact = false });
        await engine.CreateCollectionAsync(schema);
        await engine.UpsertAsync("s", documents.Select((t, d) => new EngineRecord(RecordKey.Of(d), Sparse: t)).ToList());
        var deleted = new HashSet<long>();
        while (deleted.Count < 150) deleted.Add(random.Next(docs));
        await engine.DeleteAsync("s", deleted.Select(d => RecordKey.Of(d)).ToList());
        await engine.WaitForBackgroundWorkAsync();
        Assert.Equal(3, engine.Describe("s").IndexedSegments);
        Assert.Equal(knnNeighbours > 0 ? 3 : 0, Directory.GetFiles(root, "knn.bin", SearchOption.AllDirectories).Length);

        int hits = 0, total = 0;
        for (int q = 0; q < 30; q++)
        {
            var query = documents[random.Next(docs)];
            var truth = Enumerable.Range(0, docs).Where(d => !deleted.Contains(d))
                .Select(d => (Id: (long)d, Score: Dot(query, documents[d]))).Where(c => c.Score > 0)
                .OrderByDescending(c => c.Score).ThenBy(c => c.Id).Take(k).Select(c => c.Id).ToHashSet();
            var found = engine.Search("s", new SearchRequest { Sparse = query, K = k });
            foreach (var hit in found) { Assert.DoesNotContain(hit.Key.Integer, deleted); if (truth.Contains(hit.Key.Integer)) hits++; }
            total += truth.Count;
        }
        Assert.True(hits >= 0.9 * total, $"recall {hits}/{total}");
    }

    private static float Dot(SparseTerms a, SparseTerms b)
    {
        float s = 0;
        int i = 0, j = 0;
        while (i < a.Count && j < b.Count)
        {
            if (a.Indices[i] == b.Indices[j]) s += a.Values[i++] * b.Values[j++];
            else if (a.Indices[i] < b.Indices[j]) i++;
            else j++;
        }
        return s;
    }

    internal static List<int> Queries(int count)
    {
        var list = new List<int>();
        for (int r = 1; r < count; r += 40) list.Add(r);
        return list;
    }

    private static List<long[]> SearchAll(RetrievalEngine engine, float[] values, int dim, int k)
    {
        var results = new List<long[]>();
        foreach (int q in Queries(values.Length / dim))
            results.Add(engine.Search("c", new SearchRequest { Vector = values.AsSpan(q * dim, dim).ToArray(), K = k }).Select(h => h.Key.Integer).ToArray());
        return results;
    }
}
