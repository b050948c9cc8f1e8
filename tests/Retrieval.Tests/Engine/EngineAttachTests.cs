using Retrieval.Index.Errors;
using Retrieval.Index.Seismic;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.Engine;

/// <summary>Bulk import: SPANN / Seismic build output attached as an immutable segment; and automatic compaction.</summary>
public sealed class EngineAttachTests
{
    private const int Dim = 128, Rows = 600;

    private static (string Index, float[] Values) BuildSpann(Metric metric = Metric.L2)
    {
        var values = EngineSegmentIndexTests.TinyDense(out _)[..(Rows * Dim)];
        var dir = Path.Combine(TestData.TempDirectory(), "spann");
        SpannBuilder.Build(DenseVectors.FromFloat32(values, Rows, Dim), dir, new SpannBuildOptions { Metric = metric, Threads = 1 });
        return (dir, values);
    }

    private static float[] Row(float[] values, int r) => values.AsSpan(r * Dim, Dim).ToArray();

    /// <summary>
    /// Attach a SPANN build (ids from a file, payloads from a file) next to live upserts: attached rows are found by
    /// search with their payloads, an attached key can be deleted and another overwritten, an older live record
    /// with an attached key is replaced; all of it survives a restart (with and without a checkpoint).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AttachSearchDeleteOverwriteRestart(bool checkpointOnClose)
    {
        var (index, values) = BuildSpann();
        var work = TestData.TempDirectory();
        var idsPath = Path.Combine(work, "ids.txt");
        var payloadsPath = Path.Combine(work, "payloads.jsonl");
        File.WriteAllLines(idsPath, Enumerable.Range(0, Rows).Select(r => (1000 + r).ToString()));
        File.WriteAllLines(payloadsPath, Enumerable.Range(0, Rows).Select(r => $"{{\"row\":{r}}}"));
        var dir = TestData.TempDirectory();
        var options = Small(sealRows: 64, checkpointOnClose: checkpointOnClose);
        var schema = new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(Dim, Metric.L2));
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.CreateCollectionAsync(schema);
            // A live record whose key the attach replaces, and one it does not touch.
            await engine.UpsertAsync("c", [new EngineRecord(RecordKey.Of(1005), Row(values, 300), Payload: Json("{\"old\":true}")),
                new EngineRecord(RecordKey.Of(7), Row(values, 599), Payload: Json("{\"live\":true}"))]);
            var result = await engine.AttachAsync("c", new AttachRequest { DenseIndexDirectory = index, IdsPath = idsPath, PayloadsPath = payloadsPath });
            Assert.Equal(Rows, result.Rows);
            Assert.Equal(1, result.Replaced);
            Assert.Equal(Rows + 1, engine.Describe("c").RecordCount);
            Assert.Equal(1, engine.Describe("c").AttachedSegments);

            var hit = engine.Search("c", new SearchRequest { Vector = Row(values, 42), K = 3, WithPayload = true })[0];
            Assert.Equal(1042, hit.Key.Integer);
            Assert.Equal(0f, hit.Score);
            Assert.Equal("{\"row\":42}", System.Text.Encoding.UTF8.GetString(hit.Payload!));
            // Key 1005 now is attached row 5, not the old live vector (row 300's).
            Assert.Equal(1005, engine.Search("c", new SearchRequest { Vector = Row(values, 5), K = 1 })[0].Key.Integer);
            Assert.Equal("{\"row\":5}", System.Text.Encoding.UTF8.GetString(engine.Get("c", RecordKey.Of(1005))!.Payload!));

            await engine.DeleteAsync("c", [RecordKey.Of(1010)]);
            await engine.UpsertAsync("c", [new EngineRecord(RecordKey.Of(1020), Row(values, 599), Payload: Json("{\"new\":1}"))]);
            AssertState(engine, values);
        }
        await using (var engine = RetrievalEngine.Open(dir, options))
        {
            await engine.WaitForBackgroundWorkAsync();
            Assert.Equal(Rows + 1 - 1, engine.Describe("c").RecordCount);
            AssertState(engine, values);
            Assert.Equal(1042, engine.Search("c", new SearchRequest { Vector = Row(values, 42), K = 1 })[0].Key.Integer);
        }
    }

    private static void AssertState(RetrievalEngine engine, float[] values)
    {
        Assert.Null(engine.Get("c", RecordKey.Of(1010)));
        Assert.DoesNotContain(engine.Search("c", new SearchRequest { Vector = Row(values, 10), K = 5 }), h => h.Key.Integer == 1010);
        // 1020 was overwritten with row 599's vector: searching for row 20 no longer finds it first.
        Assert.NotEqual(1020, engine.Search("c", new SearchRequest { Vector = Row(values, 20), K = 1 })[0].Key.Integer);
        Assert.Equal(Row(values, 599), engine.Get("c", RecordKey.Of(1020), withVectors: true)!.Dense);
        Assert.Equal("{\"live\":true}", System.Text.Encoding.UTF8.GetString(engine.Get("c", RecordKey.Of(7))!.Payload!));
    }

    /// <summary>
    /// An attached segment with most rows deleted still yields k live results (the segment search asks its index
    /// for more until k live rows survive), and none deleted; deleting every row lets compaction drop the segment.
    /// </summary>
    [Fact]
    public async Task HeavilyDeletedAttachedSegmentStillFillsK()
    {
        var (index, values) = BuildSpann();
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small() with { AutoCompact = false });
        await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(Dim, Metric.L2)));
        await engine.AttachAsync("c", new AttachRequest { DenseIndexDirectory = index });
        var deleted = Enumerable.Range(0, Rows).Where(r => r % 6 != 0).Select(r => RecordKey.Of(r)).ToList();
        await engine.DeleteAsync("c", deleted);
        for (int q = 0; q < Rows; q += 50)
        {
            var found = engine.Search("c", new SearchRequest { Vector = Row(values, q), K = 10 });
            Assert.Equal(10, found.Count);
            Assert.All(found, h => Assert.Equal(0, h.Key.Integer % 6));
        }
        await engine.DeleteAsync("c", Enumerable.Range(0, Rows).Where(r => r % 6 == 0).Select(r => RecordKey.Of(r)).ToList());
        Assert.Equal(Rows, await engine.CompactAsync("c"));
        Assert.Equal(0, engine.Describe("c").AttachedSegments);
        Assert.Empty(engine.Search("c", new SearchRequest { Vector = Row(values, 0), K = 10 }));
    }

    /// <summary>Seismic build output with its document ids as string keys, in a sparse collection.</summary>
    [Fact]
    public async Task AttachSeismicUsesItsDocumentIds()
    {
        const int vocab = 500, docs = 300;
        var random = new Random(5);
        var offsets = new long[docs + 1];
        var indices = new List<int>();
        var weights = new List<float>();
        var terms = new SparseTerms[docs];
        for (int d = 0; d < docs; d++)
        {
            terms[d] = RandomSparse(random, vocab, 10);
            indices.AddRange(terms[d].Indices);
            weights.AddRange(terms[d].Values);
            offsets[d + 1] = indices.Count;
        }
        var ids = Enumerable.Range(0, docs).Select(d => $"doc-{d}").ToArray();
        var indexDir = Path.Combine(TestData.TempDirectory(), "seismic");
        SeismicIndex.Build(new SparseMatrix(docs, vocab, offsets, [.. indices], [.. weights]), SeismicBuildOptions.Default with { Threads = 1 }, ids).Save(indexDir);
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        await engine.CreateCollectionAsync(new CollectionSchema("s", Sparse: new SparseFieldSchema(vocab)));
        await engine.AttachAsync("s", new AttachRequest { SparseIndexDirectory = indexDir });
        Assert.Equal(docs, engine.Describe("s").RecordCount);
        var hit = engine.Search("s", new SearchRequest { Sparse = terms[77], K = 1 })[0];
        Assert.Equal("doc-77", hit.Key.String);
        await engine.DeleteAsync("s", [RecordKey.Of("doc-77")]);
        Assert.NotEqual("doc-77", engine.Search("s", new SearchRequest { Sparse = terms[77], K = 1 })[0].Key.String);
    }

    [Fact]
    public async Task BadAttachInputGetsClearErrors()
    {
        var (index, _) = BuildSpann();
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        await engine.CreateCollectionAsync(new CollectionSchema("d64", KeyKind.Integer, new DenseFieldSchema(64, Metric.L2)));
        await engine.CreateCollectionAsync(new CollectionSchema("ip", KeyKind.Integer, new DenseFieldSchema(Dim, Metric.InnerProduct)));
        await engine.CreateCollectionAsync(new CollectionSchema("ok", KeyKind.Integer, new DenseFieldSchema(Dim, Metric.L2)));

        var e = await Assert.ThrowsAsync<RetrievalException>(() => engine.AttachAsync("d64", new AttachRequest { DenseIndexDirectory = index }));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("128-d", e.Message);
        e = await Assert.ThrowsAsync<RetrievalException>(() => engine.AttachAsync("ip", new AttachRequest { DenseIndexDirectory = index }));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("metric l2", e.Message);
        e = await Assert.ThrowsAsync<RetrievalException>(() => engine.AttachAsync("ok", new AttachRequest { DenseIndexDirectory = index + "-missing" }));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        e = await Assert.ThrowsAsync<RetrievalException>(() => engine.AttachAsync("ok", new AttachRequest()));
        Assert.Contains("SPANN index directory", e.Message);

        var ids = Path.Combine(TestData.TempDirectory(), "ids.txt");
        File.WriteAllLines(ids, ["1", "2"]);
        e = await Assert.ThrowsAsync<RetrievalException>(() => engine.AttachAsync("ok", new AttachRequest { DenseIndexDirectory = index, IdsPath = ids }));
        Assert.Contains("2 lines", e.Message);
        File.WriteAllLines(ids, Enumerable.Range(0, Rows).Select(r => r == 9 ? "nine" : r.ToString()));
        e = await Assert.ThrowsAsync<RetrievalException>(() => engine.AttachAsync("ok", new AttachRequest { DenseIndexDirectory = index, IdsPath = ids }));
        Assert.Contains("'nine' is not an integer", e.Message);

        var heads = Path.Combine(index, SpannFormat.HeadsFile);
        var bytes = File.ReadAllBytes(heads);
        bytes[^3] ^= 0x5A;
        File.WriteAllBytes(heads, bytes);
        e = await Assert.ThrowsAnyAsync<RetrievalException>(() => engine.AttachAsync("ok", new AttachRequest { DenseIndexDirectory = index }));
        Assert.Equal(ErrorKind.Corrupt, e.Kind);
        Assert.Contains(SpannFormat.HeadsFile, e.Message);
        Assert.Equal(0, engine.Describe("ok").RecordCount);
    }

    /// <summary>
    /// Overwrites pile tombstones into sealed exact segments; the automatic policy compacts them in the background
    /// and searches return exactly what brute force over the live records returns.
    /// </summary>
    [Fact]
    public async Task AutomaticCompactionTriggersAndKeepsResultsExact()
    {
        const int dim = 8;
        var random = new Random(23);
        var options = Small(sealRows: 32) with { CompactMaxSegments = 4, CompactMinTombstones = 20, CompactTombstoneFraction = 0.2 };
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), options);
        await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(dim, Metric.L2)));
        var live = new Dictionary<long, float[]>();
        for (int round = 0; round < 20; round++)
        {
            var batch = new List<EngineRecord>();
            for (int i = 0; i < 20; i++)
            {
                long id = random.Next(120);
                var v = RandomVector(random, dim);
                live[id] = v;
                batch.Add(new EngineRecord(RecordKey.Of(id), v));
            }
            await engine.UpsertAsync("c", batch);
        }
        await engine.WaitForBackgroundWorkAsync();
        var info = engine.Describe("c");
        Assert.True(info.Compactions > 0, "no automatic compaction ran");
        Assert.True(info.SegmentCount <= options.CompactMaxSegments + 2, $"{info.SegmentCount} segments");
        Assert.Equal(live.Count, info.RecordCount);
        for (int q = 0; q < 10; q++)
        {
            var query = RandomVector(random, dim);
            var expected = live.Select(kv => (kv.Key, Distance: SquaredL2(query, kv.Value))).OrderBy(c => c.Distance).ThenBy(c => c.Key).Take(10).ToArray();
            var found = engine.Search("c", new SearchRequest { Vector = query, K = 10 });
            Assert.Equal(expected.Select(c => c.Key).ToArray(), found.Select(h => h.Key.Integer).ToArray());
        }
    }

    /// <summary>Record-store log compaction shrinks the log under overwrites and loses nothing across a restart.</summary>
    [Fact]
    public async Task StoreCompactionKeepsEveryRecord()
    {
        const int dim = 16;
        var random = new Random(29);
        var dir = TestData.TempDirectory();
        var live = new Dictionary<long, float[]>();
        await using (var engine = RetrievalEngine.Open(dir, Small(sealRows: 256)))
        {
            await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(dim, Metric.L2)));
            for (int round = 0; round < 30; round++)
            {
                var batch = new List<EngineRecord>();
                for (int id = 0; id < 200; id++)
                {
                    var v = RandomVector(random, dim);
                    live[id] = v;
                    batch.Add(new EngineRecord(RecordKey.Of(id), v, Payload: Json($"{{\"round\":{round}}}")));
                }
                await engine.UpsertAsync("c", batch);
            }
            // Compact the whole store log (not only past the size threshold), then checkpoint so it is what reopens.
            long before = engine.Store.LogBytes;
            engine.Store.CompactLog(0, whole: true);
            await engine.CheckpointAsync();
            long after = engine.Store.LogBytes;
            Assert.True(after < before, $"log {before} -> {after} bytes");
        }
        await using (var engine = RetrievalEngine.Open(dir, Small(sealRows: 256)))
        {
            Assert.Equal(live.Count, engine.Describe("c").RecordCount);
            foreach (var (id, v) in live)
            {
                var record = engine.Get("c", RecordKey.Of(id), withVectors: true)!;
                Assert.Equal(v, record.Dense);
                Assert.Equal("{\"round\":29}", System.Text.Encoding.UTF8.GetString(record.Payload!));
            }
        }
    }

    private static float SquaredL2(float[] a, float[] b)
    {
        float s = 0;
        for (int i = 0; i < a.Length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        return s;
    }
}
