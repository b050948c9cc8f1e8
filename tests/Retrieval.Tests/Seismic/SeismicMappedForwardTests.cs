using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Index.Seismic;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;
using Retrieval.Query.Indexes.Seismic;
using Retrieval.Tests.Cli;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

/// <summary>
/// <see cref="ForwardIndexResidence.MemoryMapped"/>: the forward rows read in place from forward.bin answer exactly as
/// the in-memory rows do (ids and scores, every layout, with and without the kNN graph), the index's own memory
/// excludes them, damaged files are still refused naming the file, and disposing unmaps (after running searches end).
/// </summary>
public class SeismicMappedForwardTests
{
    private static readonly SparseMatrix Docs = SeismicTestData.Collection(61, rows: 500, vocabulary: 300, maxNnz: 30);
    private static readonly SparseMatrix Queries = SeismicTestData.Collection(62, rows: 24, vocabulary: 300, maxNnz: 8);

    private static SparseMatrix Widen(SparseMatrix m, int factor, int vocabulary) =>
        new(m.RowCount, vocabulary, m.RowOffsets, m.Indices.Select(t => t * factor).ToArray(), m.Values);

    private static string SavedIndex(SeismicBuildOptions options, SparseMatrix? docs = null)
    {
        var dir = Path.Combine(TestData.TempDirectory(), "idx");
        SeismicIndex.Build(docs ?? Docs, options).Save(dir);
        return dir;
    }

    private static bool IsMapped(string path) =>
        File.ReadLines("/proc/self/maps").Any(l => l.EndsWith(" " + Path.GetFullPath(path), StringComparison.Ordinal));

    [Theory]
    [InlineData(ForwardValueStorage.Float16, false, 0)]
    [InlineData(ForwardValueStorage.Float32, false, 0)]
    [InlineData(ForwardValueStorage.Float16, true, 0)]
    [InlineData(ForwardValueStorage.Float32, true, 0)]
    [InlineData(ForwardValueStorage.Float16, false, 6)]
    public void MappedAnswersExactlyAsMemory(ForwardValueStorage values, bool wideTerms, int knn)
    {
        var docs = wideTerms ? Widen(Docs, 250, 75_000) : Docs;
        var queries = wideTerms ? Widen(Queries, 250, 75_000) : Queries;
        var dir = SavedIndex(SeismicBuildOptions.Default with { Pruning = PostingPruning.FixedLambda, Lambda = 60, Values = values, KnnNeighbours = knn }, docs);
        using var memory = SeismicIndex.Open(dir);
        using var mapped = SeismicIndex.Open(dir, SeismicOpenOptions.MappedForward);
        Assert.Equal(ForwardIndexResidence.Memory, memory.ForwardResidence);
        Assert.Equal(ForwardIndexResidence.MemoryMapped, mapped.ForwardResidence);
        Assert.Equal(wideTerms, mapped.Forward.WideTermIds);
        Assert.Equal(memory.ForwardBytes, mapped.ForwardBytes);
        Assert.Equal(memory.Forward.RowLength, memory.ResidentBytes - mapped.ResidentBytes);
        Assert.Equal(0, mapped.ForwardHugePageBytes);
        Assert.True(memory.Forward.Rows.SequenceEqual(mapped.Forward.Rows));
        Assert.Equal(knn, mapped.KnnNeighbours);

        var settings = new List<SeismicSearchParameters>
        {
            SeismicSearchParameters.Exhaustive,
            new() { QueryCut = 3, HeapFactor = 0.7f },
            new() { QueryCut = 5, HeapFactor = 0.9f, BlockOrder = SeismicBlockOrder.GlobalBestFirst },
        };
        if (knn > 0) settings.Add(new SeismicSearchParameters { QueryCut = 3, HeapFactor = 0.8f, KnnRefine = true });
        foreach (var p in settings)
        {
            foreach (int threads in new[] { 1, 2 })
            {
                var a = memory.Search(queries, 10, p, threads);
                var b = mapped.Search(queries, 10, p, threads);
                Assert.Equal(a.Ids, b.Ids);
                Assert.Equal(a.Scores, b.Scores);
            }
            var ids = new int[10];
            var scores = new float[10];
            var one = memory.Search(queries, 10, p, threads: 1);
            for (int q = 0; q < queries.RowCount; q++)
            {
                mapped.SearchOne(queries.Row(q), 10, p, ids, scores);
                Assert.Equal(one.IdsOf(q).ToArray(), ids);
                Assert.Equal(one.ScoresOf(q).ToArray(), scores);
            }
        }
    }

    [Fact]
    public void RowsAreWrittenPageAlignedAndOldEightByteAlignedFilesStillMap()
    {
        var dir = SavedIndex(SeismicBuildOptions.Default);
        var reader = new ChecksummedBinaryFile.Reader(Path.Combine(dir, SeismicIndexFormat.ForwardFile), "SSMCFWD1",
            SeismicIndexFormat.CurrentVersion, SeismicIndexFormat.OldestReadableVersion, null, null);
        reader.SectionExtent<long>("offsets");
        var (offset, _) = reader.SectionExtent<byte>("rows");
        Assert.Equal(0, offset % 4096);

        // The committed v3 fixture predates page alignment: its rows start 8-byte aligned, and map all the same.
        var fixture = TestData.Fixture("seismic", "v3");
        var fixtureReader = new ChecksummedBinaryFile.Reader(Path.Combine(fixture, SeismicIndexFormat.ForwardFile), "SSMCFWD1",
            SeismicIndexFormat.CurrentVersion, SeismicIndexFormat.OldestReadableVersion, null, null);
        fixtureReader.SectionExtent<long>("offsets");
        Assert.NotEqual(0, fixtureReader.SectionExtent<byte>("rows").Offset % 4096);
        using var memory = SeismicIndex.Open(fixture);
        using var mapped = SeismicIndex.Open(fixture, SeismicOpenOptions.MappedForward);
        var queries = SeismicTestData.Collection(42, rows: 8, vocabulary: 40, maxNnz: 4);
        var a = memory.Search(queries, 5, SeismicSearchParameters.Exhaustive, threads: 1);
        var b = mapped.Search(queries, 5, SeismicSearchParameters.Exhaustive, threads: 1);
        Assert.Equal(a.Ids, b.Ids);
        Assert.Equal(a.Scores, b.Scores);
    }

    [Fact]
    public void TruncatedOrFlippedForwardFileIsRejectedNamingItWhenMapped()
    {
        var dir = SavedIndex(SeismicBuildOptions.Default);
        var path = Path.Combine(dir, SeismicIndexFormat.ForwardFile);
        var original = File.ReadAllBytes(path);
        foreach (int keep in new[] { 0, 10, original.Length / 2, original.Length - 1 })
        {
            File.WriteAllBytes(path, original[..keep]);
            var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir, SeismicOpenOptions.MappedForward));
            Assert.Equal(ErrorKind.Corrupt, e.Kind);
            Assert.Contains(SeismicIndexFormat.ForwardFile, e.Message);
        }
        foreach (int position in new[] { 9, original.Length / 2, original.Length - 10 })
        {
            var bytes = (byte[])original.Clone();
            bytes[position] ^= 0x10;
            File.WriteAllBytes(path, bytes);
            var e = Assert.ThrowsAny<RetrievalException>(() => SeismicIndex.Open(dir, SeismicOpenOptions.MappedForward));
            Assert.Contains(SeismicIndexFormat.ForwardFile, e.Message);
        }
        File.WriteAllBytes(path, original);
        using var index = SeismicIndex.Open(dir, SeismicOpenOptions.MappedForward);
        Assert.Equal(Docs.RowCount, index.Count);
    }

    /// <summary>Rows that pass the checksum but break the contract are caught by validation through the mapping, and the failed open unmaps.</summary>
    [Fact]
    public void MalformedMappedRowsAreRejectedAndTheFailedOpenUnmaps()
    {
        var dir = SavedIndex(SeismicBuildOptions.Default with { Values = ForwardValueStorage.Float32 });
        using (var index = SeismicIndex.Open(dir))
        {
            int doc = Enumerable.Range(0, index.Count).First(d => index.Forward.LengthOf(d) >= 2);
            var rows = index.Forward.Rows.ToArray();
            int at = (int)index.Forward.Offsets[doc] * (sizeof(ushort) + sizeof(float));
            BitConverter.TryWriteBytes(rows.AsSpan(at + index.Forward.LengthOf(doc) * sizeof(ushort)), -1f);
            SeismicTestData.RewriteIndexFile(dir, SeismicIndexFormat.ForwardFile, "SSMCFWD1", 3, w =>
            {
                w.Section(index.Forward.Offsets);
                w.Section(rows);
                w.Section(index.RowDocuments);
            });
            var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir, SeismicOpenOptions.MappedForward));
            Assert.Contains(SeismicIndexFormat.ForwardFile, e.Message);
            Assert.Contains($"row {doc}", e.Message);
        }
        if (OperatingSystem.IsLinux()) Assert.False(IsMapped(Path.Combine(dir, SeismicIndexFormat.ForwardFile)));
    }

    [Fact]
    public void DisposeUnmapsAndRefusesLaterSearches()
    {
        var dir = SavedIndex(SeismicBuildOptions.Default);
        var path = Path.Combine(dir, SeismicIndexFormat.ForwardFile);
        var index = SeismicIndex.Open(dir, SeismicOpenOptions.MappedForward);
        var expected = index.Search(Queries, 10, threads: 1);
        if (OperatingSystem.IsLinux()) Assert.True(IsMapped(path));
        index.Dispose();
        index.Dispose(); // idempotent
        if (OperatingSystem.IsLinux()) Assert.False(IsMapped(path));
        Assert.Throws<ObjectDisposedException>(() => index.Search(Queries, 10, threads: 1));
        Assert.Throws<ObjectDisposedException>(() => index.SearchOne(Queries.Row(0), 10, new int[10], new float[10]));

        // A search holding its lease when Dispose runs keeps the rows mapped (and readable) until it ends.
        var memory = SeismicIndex.Open(dir);
        var held = SeismicIndex.Open(dir, SeismicOpenOptions.MappedForward);
        held.Forward.BeginRead();
        held.Dispose();
        if (OperatingSystem.IsLinux()) Assert.True(IsMapped(path));
        Assert.True(held.Forward.Rows.SequenceEqual(memory.Forward.Rows));
        Assert.Throws<ObjectDisposedException>(() => held.Search(Queries, 10, threads: 1));
        held.Forward.EndRead();
        if (OperatingSystem.IsLinux()) Assert.False(IsMapped(path));

        // An in-memory index refuses searches after Dispose too (one lifecycle for both residences).
        memory.Dispose();
        Assert.Throws<ObjectDisposedException>(() => memory.Search(Queries, 10, threads: 1));
        using var reopened = SeismicIndex.Open(dir, SeismicOpenOptions.MappedForward);
        Assert.Equal(expected.Ids, reopened.Search(Queries, 10, threads: 1).Ids);
    }

    /// <summary>Saving over the directory a mapped index came from replaces files by rename: the open index keeps its rows and answers.</summary>
    [Fact]
    public void MappedIndexSavesAndSurvivesItsDirectoryBeingRewritten()
    {
        var dir = SavedIndex(SeismicBuildOptions.Default);
        using var mapped = SeismicIndex.Open(dir, SeismicOpenOptions.MappedForward);
        var expected = mapped.Search(Queries, 10, threads: 1);
        var copy = Path.Combine(TestData.TempDirectory(), "copy");
        mapped.Save(copy);
        using (var reopened = SeismicIndex.Open(copy))
            Assert.Equal(expected.Scores, reopened.Search(Queries, 10, threads: 1).Scores);
        SeismicIndex.Build(SeismicTestData.Collection(63, rows: 200, vocabulary: 300, maxNnz: 20)).Save(dir);
        var after = mapped.Search(Queries, 10, threads: 1);
        Assert.Equal(expected.Ids, after.Ids);
        Assert.Equal(expected.Scores, after.Scores);
    }

    [Fact]
    public void QueryLayerOpensMappedAndDisposeUnmaps()
    {
        var dir = SavedIndex(SeismicBuildOptions.Default);
        var path = Path.Combine(dir, SeismicIndexFormat.ForwardFile);
        using (var memory = new SeismicSearchIndex(dir))
        {
            var opener = new SeismicIndexOpener(SeismicOpenOptions.MappedForward);
            var searchIndex = (SeismicSearchIndex)opener.Open(dir, null!);
            Assert.Equal(ForwardIndexResidence.MemoryMapped, searchIndex.Index.ForwardResidence);
            Assert.True(searchIndex.ResidentBytes < memory.ResidentBytes);
            var queries = Retrieval.Query.Indexes.QuerySet.FromSparse(Queries);
            var a = memory.SearchBatch(queries, 10, memory.DefaultParameters, threads: 1);
            var b = searchIndex.SearchBatch(queries, 10, searchIndex.DefaultParameters, threads: 1);
            Assert.Equal(a.Ids, b.Ids);
            Assert.Equal(a.Scores, b.Scores);
            if (OperatingSystem.IsLinux()) Assert.True(IsMapped(path));
            searchIndex.Dispose();
            if (OperatingSystem.IsLinux()) Assert.False(IsMapped(path));
        }
        Assert.Equal(ForwardIndexResidence.Memory, SeismicOpenOptions.ParseResidence("memory"));
        Assert.Equal(ForwardIndexResidence.MemoryMapped, SeismicOpenOptions.ParseResidence("mapped"));
        Assert.Throws<FormatException>(() => SeismicOpenOptions.ParseResidence("disk"));
    }

    /// <summary>`bench seismic --forward memory,mapped` runs every configuration on both residences (same recall) and the defaults line names the default.</summary>
    [SkippableFact]
    public void BenchSeismicRunsBothResidences()
    {
        TestData.SharedDataset("seismic-toy");
        var bench = CliRunner.Run("--json", "bench", "seismic", "--sets", "toy", "--no-lucene", "--query-cuts", "5", "--heap-factors", "0.7",
            "--forward", "memory,mapped");
        Assert.True(bench.ExitCode == 0, bench.ToString());
        var lines = bench.Stdout.Trim().Split('\n');
        Assert.Equal(4, lines.Length); // defaults + exact + one setting x two residences
        Assert.Contains("\"forward\":\"memory\"", lines[0]);
        using var memory = JsonDocument.Parse(lines.Single(l => l.Contains("fwd=memory")));
        using var mapped = JsonDocument.Parse(lines.Single(l => l.Contains("fwd=mapped")));
        Assert.Equal(memory.RootElement.GetProperty("recall_at_k").GetDouble(), mapped.RootElement.GetProperty("recall_at_k").GetDouble());
        Assert.Contains("fwd=mapped: after the sweep", bench.Stderr);
        var bad = CliRunner.Run("bench", "seismic", "--sets", "toy", "--no-lucene", "--forward", "disk");
        Assert.NotEqual(0, bad.ExitCode);
    }
}
