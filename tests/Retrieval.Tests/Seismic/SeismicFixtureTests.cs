using Retrieval.Index.Exact;
using Retrieval.Index.Sparse;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

/// <summary>
/// A tiny index written by format version 1 is committed under datasets/fixtures/seismic/v1; every later reader must
/// still open it and answer as exact search does (Tantivy's habit). Regenerate only on a format change, with
/// SEISMIC_WRITE_FIXTURE=1, and keep the old version's folder.
/// </summary>
public class SeismicFixtureTests
{
    private static SparseMatrix FixtureDocuments() => SeismicTestData.Collection(41, rows: 60, vocabulary: 40, maxNnz: 8);
    private static SparseMatrix FixtureQueries() => SeismicTestData.Collection(42, rows: 8, vocabulary: 40, maxNnz: 4);
    private static readonly SeismicBuildOptions FixtureOptions = SeismicBuildOptions.Default with
    {
        Pruning = PostingPruning.None,
        Values = ForwardValueStorage.Float32,
        CentroidFraction = 0.2,
    };

    [Fact]
    public void Version1FixtureStillOpensAndMatchesExact()
    {
        var dir = TestData.Fixture("seismic", "v1");
        if (Environment.GetEnvironmentVariable("SEISMIC_WRITE_FIXTURE") == "1")
            SeismicIndex.Build(FixtureDocuments(), FixtureOptions, Enumerable.Range(0, 60).Select(i => "doc" + i).ToArray()).Save(dir);
        var index = SeismicIndex.Open(dir);
        Assert.Equal(60, index.Count);
        Assert.Equal(40, index.VocabularySize);
        Assert.Equal("doc59", index.DocumentIds![59]);
        Assert.Equal(FixtureOptions with { Threads = 0 }, index.Options);
        Assert.True(index.Postings.BlockCount > 40, "lists are split into blocks");
        var exact = new ExactSparseIndex(FixtureDocuments()).Search(FixtureQueries(), 5, threads: 1);
        SeismicExactnessTests.AssertSameTopK(exact, index.Search(FixtureQueries(), 5, SeismicSearchParameters.Exhaustive, threads: 1));
    }
}
