using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.Engine;

public sealed class EngineCollectionTests
{
    [Fact]
    public async Task CreateListDescribeDrop()
    {
        var dir = TestData.TempDirectory();
        await using var engine = RetrievalEngine.Open(dir, Small());
        var info = await engine.CreateCollectionAsync(new CollectionSchema("docs", KeyKind.Integer, new DenseFieldSchema(4, Metric.L2)));
        Assert.Equal(0, info.RecordCount);
        await engine.CreateCollectionAsync(new CollectionSchema("alpha", Sparse: new SparseFieldSchema(100)));
        var names = engine.ListCollections().Select(c => c.Schema.Name).ToArray();
        Assert.Equal(["alpha", "docs"], names);
        Assert.Equal(4, engine.Describe("docs").Schema.Dense!.Dimension);

        var exists = await Assert.ThrowsAsync<AlreadyExistsException>(() =>
            engine.CreateCollectionAsync(new CollectionSchema("docs", Dense: new DenseFieldSchema(4, Metric.L2))));
        Assert.Contains("'docs' already exists", exists.Message);

        await engine.DropCollectionAsync("docs");
        Assert.Equal(["alpha"], engine.ListCollections().Select(c => c.Schema.Name).ToArray());
        var missing = Assert.Throws<RetrievalException>(() => engine.Describe("docs"));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
        var dropMissing = await Assert.ThrowsAsync<RetrievalException>(() => engine.DropCollectionAsync("docs"));
        Assert.Equal(ErrorKind.NotFound, dropMissing.Kind);
    }

    [Theory]
    [InlineData("", "collection name is empty")]
    [InlineData("bad name", "has character ' '")]
    public async Task BadNamesAreRejected(string name, string expected)
    {
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        var e = await Assert.ThrowsAsync<RetrievalException>(() => engine.CreateCollectionAsync(new CollectionSchema(name, Dense: new DenseFieldSchema(2, Metric.L2))));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public async Task BadSchemasNameTheField()
    {
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        var none = await Assert.ThrowsAsync<RetrievalException>(() => engine.CreateCollectionAsync(new CollectionSchema("x")));
        Assert.Contains("needs a dense field, a sparse field or both", none.Message);
        var dims = await Assert.ThrowsAsync<RetrievalException>(() => engine.CreateCollectionAsync(new CollectionSchema("x", Dense: new DenseFieldSchema(0, Metric.L2))));
        Assert.Contains("dense.dimension", dims.Message);
        var text = await Assert.ThrowsAsync<RetrievalException>(() => engine.CreateCollectionAsync(
            new CollectionSchema("x", Dense: new DenseFieldSchema(8, Metric.Cosine), TextEncoders: true)));
        Assert.Contains("text_encoders needs dense.dimension 384", text.Message);
    }

    [Fact]
    public async Task RecordsAreValidatedAgainstTheSchema()
    {
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.Integer, new DenseFieldSchema(3, Metric.InnerProduct), new SparseFieldSchema(10)));
        var sparse = new SparseTerms([1], [1f]);

        async Task<string> Fails(EngineRecord r)
        {
            var e = await Assert.ThrowsAnyAsync<RetrievalException>(() => engine.UpsertAsync("c", [r]));
            return e.Message;
        }
        Assert.Contains("records[0].vector has 2 dimensions, collection 'c' expects 3", await Fails(new(RecordKey.Of(1), [1, 2], sparse)));
        Assert.Contains("records[0].vector[1] is NaN", await Fails(new(RecordKey.Of(1), [1, float.NaN, 2], sparse)));
        Assert.Contains("records[0].vector is required", await Fails(new(RecordKey.Of(1), null, sparse)));
        Assert.Contains("records[0].sparse.indices[0] = 10 is outside the vocabulary", await Fails(new(RecordKey.Of(1), [1, 2, 3], new SparseTerms([10], [1f]))));
        Assert.Contains("is a string key", await Fails(new(RecordKey.Of("a"), [1, 2, 3], sparse)));
        Assert.Contains("not valid JSON", await Fails(new(RecordKey.Of(1), [1, 2, 3], sparse, Json("{oops"))));
        Assert.Contains("created without text encoders", await Fails(new(RecordKey.Of(1), [1, 2, 3], sparse, Text: "hello")));
        var big = await Assert.ThrowsAsync<RetrievalException>(() => engine.UpsertAsync("c", [new(RecordKey.Of(1), [1, 2, 3], sparse, new byte[300_000])]));
        Assert.Equal(ErrorKind.ResourceExhausted, big.Kind);
        Assert.Equal(0, engine.Describe("c").RecordCount);
    }

    [Fact]
    public async Task UpsertGetDeleteWithPayloads()
    {
        await using var engine = RetrievalEngine.Open(TestData.TempDirectory(), Small());
        await engine.CreateCollectionAsync(new CollectionSchema("c", KeyKind.String, new DenseFieldSchema(2, Metric.L2)));
        // A compressible payload over the LZ4 threshold and a small one.
        string big = "{\"text\":\"" + string.Concat(Enumerable.Repeat("abcdefgh", 200)) + "\"}";
        await engine.UpsertAsync("c", [new(RecordKey.Of("a"), [0, 0], Payload: Json(big)), new(RecordKey.Of("b"), [1, 1], Payload: Json("{\"n\":1}"))]);
        Assert.Equal(big, System.Text.Encoding.UTF8.GetString(engine.Get("c", RecordKey.Of("a"))!.Payload!));
        var b = engine.Get("c", RecordKey.Of("b"), withVectors: true)!;
        Assert.Equal([1f, 1f], b.Dense!);
        Assert.Null(engine.Get("c", RecordKey.Of("zzz")));

        await engine.UpsertAsync("c", [new(RecordKey.Of("a"), [5, 5], Payload: Json("{\"v\":2}"))]);
        Assert.Equal("{\"v\":2}", System.Text.Encoding.UTF8.GetString(engine.Get("c", RecordKey.Of("a"))!.Payload!));
        Assert.Equal(2, engine.Describe("c").RecordCount);
        Assert.Equal(1, engine.Describe("c").Tombstones);

        Assert.Equal(1, await engine.DeleteAsync("c", [RecordKey.Of("a"), RecordKey.Of("nope")]));
        Assert.Null(engine.Get("c", RecordKey.Of("a")));
        var hits = engine.Search("c", new SearchRequest { Vector = [5, 5], K = 5, WithPayload = true });
        Assert.Single(hits);
        Assert.Equal("b", hits[0].Key.String);
        Assert.Equal(32f, hits[0].Score); // squared L2 from (5,5) to (1,1)
        Assert.Equal("{\"n\":1}", System.Text.Encoding.UTF8.GetString(hits[0].Payload!));
    }
}
