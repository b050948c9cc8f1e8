using Microsoft.Extensions.VectorData;
using Retrieval.Query.VectorData;
using Retrieval.Tests.Support;
using static Retrieval.Tests.Engine.EngineTestSupport;

namespace Retrieval.Tests.VectorData;

public sealed class Article
{
    [VectorStoreKey] public int Id { get; set; }
    [VectorStoreData(IsFullTextIndexed = true)] public string Body { get; set; } = "";
    // A string vector property: the store's embedding generator (local MiniLM) turns the body into the vector.
    [VectorStoreVector(384)] public string Embedding => Body;
}

public sealed class HybridVectorStoreTests
{
    private static readonly string[] Bodies =
    [
        "The heart pumps blood through the arteries and veins of the circulatory system.",
        "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar.",
        "A compiler translates source code written in a programming language into machine code.",
        "Volcanoes erupt when molten rock called magma rises to the surface of the earth.",
        "The stock market fell sharply after the central bank raised interest rates.",
        "Zebrafish regenerate heart tissue after injury, unlike adult mammals.",
    ];

    [Fact]
    public async Task TextRecordsAreEmbeddedLocallyAndHybridSearchFusesBm25()
    {
        using var generator = new MiniLmEmbeddingGenerator();
        using var store = RetrievalVectorStore.Open(TestData.TempDirectory(), new RetrievalVectorStoreOptions { EmbeddingGenerator = generator }, Small());
        var collection = store.GetCollection<int, Article>("articles");
        await collection.EnsureCollectionExistsAsync();
        var schema = store.Engine.Describe("articles").Schema;
        Assert.True(schema.TextEncoders);
        Assert.NotNull(schema.Sparse);
        await collection.UpsertAsync(Bodies.Select((b, i) => new Article { Id = i, Body = b }));

        var dense = await collection.SearchAsync("how do plants make food from light", 1).DrainSingle();
        Assert.Equal(1, dense.Record.Id);
        Assert.Equal(Bodies[1], dense.Record.Body);

        var hybrid = await collection.HybridSearchAsync("cardiac muscle repair", ["zebrafish", "heart"], 2).Drain();
        Assert.Equal(5, hybrid[0].Record.Id);
        Assert.Equal(0, hybrid[1].Record.Id);
        Assert.True(hybrid[0].Score > hybrid[1].Score);

        // Deleting the best match removes it from both fused lists.
        await collection.DeleteAsync(5);
        var after = await collection.HybridSearchAsync("cardiac muscle repair", ["zebrafish", "heart"], 1).DrainSingle();
        Assert.Equal(0, after.Record.Id);
        await Assert.ThrowsAsync<NotSupportedException>(async () =>
            await collection.SearchAsync("x", 1, new VectorSearchOptions<Article> { IncludeVectors = true }).Drain());
    }
}
