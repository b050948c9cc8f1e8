using Microsoft.Extensions.VectorData;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Query.VectorData;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.VectorData;

public sealed class Passage
{
    [VectorStoreKey] public string Id { get; set; } = "";
    [VectorStoreData] public string Category { get; set; } = "";
    [VectorStoreData] public int Row { get; set; }
    [VectorStoreData] public string[]? Tags { get; set; }
    [VectorStoreVector(128, DistanceFunction = DistanceFunction.EuclideanDistance)] public ReadOnlyMemory<float> Embedding { get; set; }
}

public sealed class CosinePoint
{
    [VectorStoreKey] public long Id { get; set; }
    [VectorStoreVector(128)] public float[] Vector { get; set; } = [];
}

public sealed class Hamming
{
    [VectorStoreKey] public int Id { get; set; }
    [VectorStoreVector(4, DistanceFunction = DistanceFunction.HammingDistance)] public float[] Vector { get; set; } = [];
}

public sealed class GuidNote
{
    [VectorStoreKey] public Guid Id { get; set; }
    [VectorStoreData] public string? Note { get; set; }
    [VectorStoreVector(3, DistanceFunction = DistanceFunction.DotProductSimilarity)] public ReadOnlyMemory<float> Vector { get; set; }
}

public sealed class VectorStoreTests
{
    private static float[][] TinyDense(int count)
    {
        var vectors = DenseVectorFile.Read(TestData.Fixture("tiny-dense", "base.u8bin"));
        var rows = new float[count][];
        for (int i = 0; i < count; i++)
        {
            rows[i] = new float[vectors.Dimension];
            vectors.CopyRowTo(i, rows[i]);
        }
        return rows;
    }

    private static List<Passage> Passages(float[][] rows)
    {
        var list = new List<Passage>(rows.Length);
        for (int i = 0; i < rows.Length; i++)
            list.Add(new Passage { Id = $"p{i}", Category = i % 3 == 0 ? "a" : "b", Row = i, Tags = [$"t{i % 5}"], Embedding = rows[i] });
        return list;
    }

    private static (int Row, double Distance)[] ExactL2(float[][] rows, float[] query, Func<int, bool>? keep = null)
    {
        var all = new List<(int, double)>();
        for (int i = 0; i < rows.Length; i++)
        {
            if (keep is not null && !keep(i)) continue;
            double d = 0;
            for (int j = 0; j < query.Length; j++) d += (double)(rows[i][j] - query[j]) * (rows[i][j] - query[j]);
            all.Add((i, Math.Sqrt(d)));
        }
        all.Sort((x, y) => x.Item2 != y.Item2 ? x.Item2.CompareTo(y.Item2) : x.Item1.CompareTo(y.Item1));
        return [.. all];
    }

    [Fact]
    public async Task UpsertGetSearchDeleteThroughVectorData()
    {
        var rows = TinyDense(300);
        using var store = RetrievalVectorStore.Open(TestData.TempDirectory(), engineOptions: Small(sealRows: 100));
        var collection = store.GetCollection<string, Passage>("passages");
        Assert.False(await collection.CollectionExistsAsync());
        await collection.EnsureCollectionExistsAsync();
        await collection.EnsureCollectionExistsAsync(); // idempotent
        Assert.Equal(["passages"], await store.ListCollectionNamesAsync().Drain());
        Assert.Equal(new DenseFieldSchema(128, Metric.L2), store.Engine.Describe("passages").Schema.Dense);

        await collection.UpsertAsync(Passages(rows));
        var got = await collection.GetAsync("p7", new RecordRetrievalOptions { IncludeVectors = true });
        Assert.NotNull(got);
        Assert.Equal(("b", 7, "t2"), (got!.Category, got.Row, got.Tags![0]));
        Assert.Equal(rows[7], got.Embedding.ToArray());
        var withoutVector = await collection.GetAsync("p7");
        Assert.True(withoutVector!.Embedding.IsEmpty);
        Assert.Null(await collection.GetAsync("nope"));

        var query = TinyDense(301)[300];
        var exact = ExactL2(rows, query);
        var results = await collection.SearchAsync(query, 10).Drain();
        Assert.Equal(exact.Take(10).Select(e => $"p{e.Row}"), results.Select(r => r.Record.Id));
        for (int i = 0; i < 10; i++) Assert.Equal(exact[i].Distance, results[i].Score!.Value, 1e-3 * Math.Max(1, exact[i].Distance));

        // Skip pages through the same order; the score threshold cuts by Euclidean distance.
        var page2 = await collection.SearchAsync(query, 5, new VectorSearchOptions<Passage> { Skip = 5 }).Drain();
        Assert.Equal(exact.Skip(5).Take(5).Select(e => $"p{e.Row}"), page2.Select(r => r.Record.Id));
        double cut = exact[3].Distance + 1e-3;
        var near = await collection.SearchAsync(query, 10, new VectorSearchOptions<Passage> { ScoreThreshold = cut }).Drain();
        Assert.Equal(4, near.Count);

        await collection.DeleteAsync([$"p{exact[0].Row}", $"p{exact[1].Row}"]);
        Assert.Null(await collection.GetAsync($"p{exact[0].Row}"));
        var afterDelete = await collection.SearchAsync(query, 3).Drain();
        Assert.Equal(exact.Skip(2).Take(3).Select(e => $"p{e.Row}"), afterDelete.Select(r => r.Record.Id));
    }

    [Fact]
    public async Task FilterFetchesMoreCandidatesUntilEnoughPass()
    {
        var rows = TinyDense(400);
        using var store = RetrievalVectorStore.Open(TestData.TempDirectory(), engineOptions: Small(sealRows: 128));
        var collection = store.GetCollection<string, Passage>("filtered");
        await collection.EnsureCollectionExistsAsync();
        await collection.UpsertAsync(Passages(rows));
        var query = TinyDense(401)[400];
        // Category "a" is every third row; Row >= 390 keeps only a handful, so the search must widen its fetch.
        var exact = ExactL2(rows, query, i => i % 3 == 0 && i >= 390);
        var results = await collection.SearchAsync(query, 10, new VectorSearchOptions<Passage> { Filter = p => p.Category == "a" && p.Row >= 390 }).Drain();
        Assert.Equal(exact.Select(e => $"p{e.Row}"), results.Select(r => r.Record.Id));
        Assert.True(results.Count is > 0 and < 10);
        Assert.All(results, r => Assert.Equal("a", r.Record.Category));
    }

    [Fact]
    public async Task RecordsSurviveReopeningTheStore()
    {
        var rows = TinyDense(50);
        var dir = TestData.TempDirectory();
        using (var store = RetrievalVectorStore.Open(dir, engineOptions: Small(checkpointOnClose: false)))
        {
            var collection = store.GetCollection<long, CosinePoint>("points");
            await collection.EnsureCollectionExistsAsync();
            await collection.UpsertAsync(rows.Select((r, i) => new CosinePoint { Id = 1000 + i, Vector = r }));
        }
        using (var store = RetrievalVectorStore.Open(dir, engineOptions: Small()))
        {
            var collection = store.GetCollection<long, CosinePoint>("points");
            Assert.True(await collection.CollectionExistsAsync());
            var hit = await collection.SearchAsync(rows[17], 1).DrainSingle();
            Assert.Equal(1017, hit.Record.Id);
            Assert.Equal(1.0, hit.Score!.Value, 1e-4); // cosine similarity of a vector with itself
            Assert.Equal(rows[3], (await collection.GetAsync(1003, new RecordRetrievalOptions { IncludeVectors = true }))!.Vector);
        }
    }

    [Fact]
    public async Task GuidKeysAreGeneratedAndDotProductScoresAreRaw()
    {
        using var store = RetrievalVectorStore.Open(TestData.TempDirectory(), engineOptions: Small());
        var collection = store.GetCollection<Guid, GuidNote>("notes");
        await collection.EnsureCollectionExistsAsync();
        var a = new GuidNote { Note = "a", Vector = new float[] { 1, 0, 0 } };
        var b = new GuidNote { Note = "b", Vector = new float[] { 0, 2, 0 } };
        await collection.UpsertAsync([a, b]);
        Assert.NotEqual(Guid.Empty, a.Id);
        Assert.NotEqual(a.Id, b.Id);
        var results = await collection.SearchAsync(new ReadOnlyMemory<float>([0.5f, 1, 0]), 2).Drain();
        Assert.Equal(["b", "a"], results.Select(r => r.Record.Note));
        Assert.Equal([2.0, 0.5], results.Select(r => r.Score!.Value));
        Assert.Equal("a", (await collection.GetAsync(a.Id))!.Note);
    }

    [Fact]
    public async Task DynamicCollectionsMapDictionaries()
    {
        using var store = RetrievalVectorStore.Open(TestData.TempDirectory(), engineOptions: Small());
        var definition = new VectorStoreCollectionDefinition
        {
            Properties =
            [
                new VectorStoreKeyProperty("Key", typeof(string)),
                new VectorStoreDataProperty("Title", typeof(string)),
                new VectorStoreVectorProperty("Vec", typeof(ReadOnlyMemory<float>), 2) { DistanceFunction = DistanceFunction.CosineDistance },
            ],
        };
        var collection = store.GetDynamicCollection("dyn", definition);
        await collection.EnsureCollectionExistsAsync();
        await collection.UpsertAsync(
        [
            new Dictionary<string, object?> { ["Key"] = "x", ["Title"] = "east", ["Vec"] = new ReadOnlyMemory<float>([1f, 0f]) },
            new Dictionary<string, object?> { ["Key"] = "y", ["Title"] = "north", ["Vec"] = new ReadOnlyMemory<float>([0f, 1f]) },
        ]);
        var results = await collection.SearchAsync(new ReadOnlyMemory<float>([1f, 0.1f]), 2).Drain();
        Assert.Equal(["east", "north"], results.Select(r => (string)r.Record["Title"]!));
        Assert.True(results[0].Score < results[1].Score); // a distance: smaller is closer
        Assert.Equal(1 - 1 / Math.Sqrt(1.01), results[0].Score!.Value, 1e-5);
        Assert.Equal("north", (await collection.GetAsync("y"))!["Title"]);
    }

    [Fact]
    public async Task BadInputGetsClearErrors()
    {
        using var store = RetrievalVectorStore.Open(TestData.TempDirectory(), engineOptions: Small());
        var unsupported = Assert.Throws<NotSupportedException>(() => store.GetCollection<int, Hamming>("h"));
        Assert.Contains("HammingDistance", unsupported.Message);

        var collection = store.GetCollection<long, CosinePoint>("points");
        await collection.EnsureCollectionExistsAsync();
        var wrongDims = await Assert.ThrowsAsync<VectorStoreException>(() => collection.UpsertAsync(new CosinePoint { Id = 1, Vector = [1, 2, 3] }));
        Assert.Contains("dimension", wrongDims.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("Upsert", wrongDims.OperationName);
        var nan = new float[128];
        nan[5] = float.NaN;
        await Assert.ThrowsAsync<VectorStoreException>(() => collection.UpsertAsync(new CosinePoint { Id = 2, Vector = nan }));
        var badQuery = await Assert.ThrowsAsync<ArgumentException>(async () => await collection.SearchAsync(new float[7], 3).Drain());
        Assert.Contains("7 dimensions", badQuery.Message);
        await Assert.ThrowsAsync<NotSupportedException>(async () => await collection.SearchAsync("text without a generator", 3).Drain());
        Assert.Throws<NotSupportedException>(() => collection.GetAsync(p => p.Id > 0, 5));

        // The same name with an incompatible record type is refused rather than silently mixed.
        var clash = store.GetCollection<string, Passage>("points");
        var mismatch = await Assert.ThrowsAsync<VectorStoreException>(() => clash.EnsureCollectionExistsAsync());
        Assert.Contains("exists with key Integer", mismatch.Message);

        await store.EnsureCollectionDeletedAsync("points");
        await store.EnsureCollectionDeletedAsync("points"); // already gone: no error
        Assert.False(await collection.CollectionExistsAsync());
    }
}
