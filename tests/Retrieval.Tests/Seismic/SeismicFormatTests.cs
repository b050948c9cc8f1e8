using System.Text.Json.Nodes;
using Retrieval.Index.Errors;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Seismic;

public class SeismicFormatTests
{
    private static readonly SparseMatrix Docs = SeismicTestData.Collection(21, rows: 400, vocabulary: 300, maxNnz: 25);
    private static readonly SparseMatrix Queries = SeismicTestData.Collection(22, rows: 20, vocabulary: 300, maxNnz: 8);

    private static string SavedIndex(SeismicBuildOptions? options = null, bool withIds = true)
    {
        var dir = Path.Combine(TestData.TempDirectory(), "idx");
        var ids = withIds ? Enumerable.Range(0, Docs.RowCount).Select(i => $"doc-{i}-é").ToArray() : null;
        SeismicIndex.Build(Docs, options ?? SeismicBuildOptions.Default with { Pruning = PostingPruning.FixedLambda, Lambda = 40 }, ids).Save(dir);
        return dir;
    }

    [Theory]
    [InlineData(ForwardValueStorage.Float16, 300)]
    [InlineData(ForwardValueStorage.Float32, 300)]
    [InlineData(ForwardValueStorage.Float16, 70_000)]
    public void RoundTripGivesIdenticalIndexAndResults(ForwardValueStorage values, int vocabulary)
    {
        var docs = vocabulary == 300 ? Docs : new SparseMatrix(Docs.RowCount, vocabulary, Docs.RowOffsets,
            Docs.Indices.Select(t => t * 200).ToArray(), Docs.Values);
        var queries = vocabulary == 300 ? Queries : new SparseMatrix(Queries.RowCount, vocabulary, Queries.RowOffsets,
            Queries.Indices.Select(t => t * 200).ToArray(), Queries.Values);
        var options = SeismicBuildOptions.Default with { Pruning = PostingPruning.FixedLambda, Lambda = 40, Values = values };
        var ids = Enumerable.Range(0, docs.RowCount).Select(i => "d" + i).ToArray();
        var built = SeismicIndex.Build(docs, options, ids);
        var dir = Path.Combine(TestData.TempDirectory(), "idx");
        built.Save(dir);
        var opened = SeismicIndex.Open(dir);
        Assert.Equal(vocabulary > 65536, opened.Forward.WideTermIds);
        Assert.Equal(values, opened.Forward.ValueStorage);
        Assert.Equal(options, opened.Options);
        Assert.Equal(ids, opened.DocumentIds);
        Assert.Equal(built.Postings.DocIds, opened.Postings.DocIds);
        Assert.Equal(built.Summaries.RawArrays.Codes, opened.Summaries.RawArrays.Codes);
        var p = new SeismicSearchParameters { QueryCut = 5, HeapFactor = 0.8f };
        var a = built.Search(queries, 10, p, threads: 1);
        var b = opened.Search(queries, 10, p, threads: 1);
        Assert.Equal(a.Ids, b.Ids);
        Assert.Equal(a.Scores, b.Scores);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")))!;
        Assert.Equal("seismic", manifest["format"]!.GetValue<string>());
        Assert.Equal(docs.RowCount, manifest["counts"]!["documents"]!.GetValue<int>());
        Assert.Empty(Directory.GetFiles(dir, "*.tmp-*"));
    }

    /// <summary>
    /// A forward file whose checksums all agree but whose rows break the contract (term ids not increasing, a
    /// negative weight) is caught by the structural checks on open, not trusted because its CRC matches.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WellChecksummedButMalformedForwardRowsAreRejected(bool negativeWeight)
    {
        var dir = SavedIndex(SeismicBuildOptions.Default with { Pruning = PostingPruning.FixedLambda, Lambda = 40, Values = ForwardValueStorage.Float32 });
        var index = SeismicIndex.Open(dir);
        int doc = Enumerable.Range(0, index.Count).First(d => index.Forward.LengthOf(d) >= 2);
        var rows = index.Forward.Rows.ToArray();
        int at = (int)index.Forward.Offsets[doc] * (sizeof(ushort) + sizeof(float));
        int length = index.Forward.LengthOf(doc);
        if (negativeWeight)
            BitConverter.TryWriteBytes(rows.AsSpan(at + length * sizeof(ushort)), -1f);
        else
            (rows[at], rows[at + 1], rows[at + 2], rows[at + 3]) = (rows[at + 2], rows[at + 3], rows[at], rows[at + 1]);
        SeismicTestData.RewriteIndexFile(dir, SeismicIndexFormat.ForwardFile, "SSMCFWD1", 3, w =>
        {
            w.Section(index.Forward.Offsets);
            w.Section(rows);
            w.Section(index.RowDocuments);
        });
        var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains(SeismicIndexFormat.ForwardFile, e.Message);
        Assert.Contains($"row {doc}", e.Message);
        Assert.Contains(negativeWeight ? "expected finite and >= 0" : "not increasing", e.Message);
    }

    /// <summary>A well-checksummed forward file whose row -> document map is not a permutation is rejected on open.</summary>
    [Theory]
    [InlineData(-1)]
    [InlineData(400)]
    [InlineData(0)]
    public void RowDocumentsThatAreNotAPermutationAreRejected(int bad)
    {
        var dir = SavedIndex();
        var index = SeismicIndex.Open(dir);
        var rowDocuments = (int[])index.RowDocuments.Clone();
        int row = Array.IndexOf(rowDocuments, bad == 0 ? 1 : 0);
        rowDocuments[row] = bad == 0 ? rowDocuments[row == 0 ? 1 : 0] : bad; // out of range, or a duplicate
        SeismicTestData.RewriteIndexFile(dir, SeismicIndexFormat.ForwardFile, "SSMCFWD1", 3, w =>
        {
            w.Section(index.Forward.Offsets);
            w.Section(index.Forward.Rows);
            w.Section(rowDocuments);
        });
        var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains(SeismicIndexFormat.ForwardFile, e.Message);
        Assert.Contains("permutation", e.Message);
    }

    [Theory]
    [InlineData("forward.bin")]
    [InlineData("postings.bin")]
    [InlineData("summaries.bin")]
    [InlineData("doc-ids.bin")]
    public void TruncatedFileIsRejectedNamingIt(string file)
    {
        var dir = SavedIndex();
        var path = Path.Combine(dir, file);
        var bytes = File.ReadAllBytes(path);
        foreach (int keep in new[] { 0, 10, bytes.Length / 2, bytes.Length - 1 })
        {
            File.WriteAllBytes(path, bytes[..keep]);
            var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
            Assert.Equal(ErrorKind.Corrupt, e.Kind);
            Assert.Contains(file, e.Message);
        }
    }

    [Theory]
    [InlineData("forward.bin")]
    [InlineData("postings.bin")]
    [InlineData("summaries.bin")]
    [InlineData("doc-ids.bin")]
    public void FlippedByteIsRejectedNamingIt(string file)
    {
        var dir = SavedIndex();
        var path = Path.Combine(dir, file);
        var original = File.ReadAllBytes(path);
        var rng = new Random(5);
        // Header, a section, the checksum and the end marker: every region must be covered.
        foreach (int position in new[] { 0, 9, 20, original.Length / 2, original.Length - 10, original.Length - 2, rng.Next(original.Length) })
        {
            var bytes = (byte[])original.Clone();
            bytes[position] ^= 0x10;
            File.WriteAllBytes(path, bytes);
            var e = Assert.ThrowsAny<RetrievalException>(() => SeismicIndex.Open(dir));
            Assert.Contains(file, e.Message);
            Assert.True(e.Kind is ErrorKind.Corrupt or ErrorKind.Incompatible, $"byte {position}: {e.Kind} {e.Message}");
        }
        File.WriteAllBytes(path, original);
        Assert.Equal(Docs.RowCount, SeismicIndex.Open(dir).Count);
    }

    [Fact]
    public void FileFromAnotherIndexIsRejected()
    {
        var a = SavedIndex();
        var b = SavedIndex(SeismicBuildOptions.Default with { Pruning = PostingPruning.FixedLambda, Lambda = 10 });
        File.Copy(Path.Combine(b, "postings.bin"), Path.Combine(a, "postings.bin"), overwrite: true);
        var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(a));
        Assert.Contains("postings.bin", e.Message);
    }

    [Fact]
    public void ManifestProblemsAreReportedClearly()
    {
        var dir = SavedIndex(withIds: false);
        var manifestPath = Path.Combine(dir, "manifest.json");
        var text = File.ReadAllText(manifestPath);

        File.WriteAllText(manifestPath, text[..(text.Length / 2)]);
        var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains("manifest.json", e.Message);
        Assert.Equal(ErrorKind.Corrupt, e.Kind);

        File.WriteAllText(manifestPath, text.Replace($"\"format_version\": {SeismicIndexFormat.CurrentVersion}", "\"format_version\": 99"));
        e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Equal(ErrorKind.Incompatible, e.Kind);
        Assert.Contains("99", e.Message);

        File.WriteAllText(manifestPath, text.Replace("\"seismic\"", "\"spann\""));
        e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Equal(ErrorKind.Incompatible, e.Kind);

        File.Delete(manifestPath);
        var missing = Assert.Throws<RetrievalException>(() => SeismicIndex.Open(dir));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);

        var none = Assert.Throws<RetrievalException>(() => SeismicIndex.Open(Path.Combine(dir, "nope")));
        Assert.Equal(ErrorKind.NotFound, none.Kind);
    }

    [Fact]
    public void MissingBinaryFileIsNamed()
    {
        var dir = SavedIndex();
        File.Delete(Path.Combine(dir, "summaries.bin"));
        var e = Assert.Throws<DataFormatException>(() => SeismicIndex.Open(dir));
        Assert.Contains("summaries.bin", e.Message);
    }
}
