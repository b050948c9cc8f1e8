using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Index.Seismic;

/// <summary>
/// The Seismic index directory: manifest.json (format name and version, build options, counts, and each binary
/// file's size and CRC-32C; see <see cref="SeismicManifest"/>) beside forward.bin (the forward index by row, and each
/// row's input document id), postings.bin (blocked lists of rows), summaries.bin
/// (quantized summaries), when the index has external ids, doc-ids.bin, and when it has a kNN graph, knn.bin
/// (kappa neighbour rows per row; the manifest's parameters carry knn_neighbours; indexes written before the graph
/// existed have neither and open with no graph). Binary files use
/// <see cref="ChecksummedBinaryFile"/> framing. Files are written to temporary names and renamed; the manifest goes
/// last, so a reader sees either the previous complete index or the new one. Opening checks the manifest against
/// every file, every checksum, and the structure (offsets monotone, ids in range) before any search can run.
/// </summary>
public static class SeismicIndexFormat
{
    public const string FormatName = "seismic";
    /// <summary>The format this code writes; files from <see cref="OldestReadableVersion"/> up to this one open.</summary>
    /// <remarks>
    /// Version 2 stores summaries with narrow widths (u16 component ids and list-relative entry offsets, u8 block ids
    /// where they fit) and no summary for single-block lists. Version 3 (this code) adds the row order: forward rows
    /// may be stored in another order than the input (<see cref="ForwardRowOrder"/>), postings name rows, and
    /// forward.bin carries a third section mapping each row to its input document id. Version 1 and 2 indexes must
    /// be rebuilt: they are rejected with a format-version error (a version 2 index would be read correctly as input
    /// order, but an older reader must not misread a version 3 one, so the version moves).
    /// </remarks>
    public const uint CurrentVersion = 3;
    public const uint OldestReadableVersion = 3;
    public const string ManifestFile = "manifest.json";
    public const string ForwardFile = "forward.bin";
    public const string PostingsFile = "postings.bin";
    public const string SummariesFile = "summaries.bin";
    public const string DocumentIdsFile = "doc-ids.bin";
    public const string KnnGraphFile = "knn.bin";

    private const string ForwardMagic = "SSMCFWD1";
    private const string PostingsMagic = "SSMCPST1";
    private const string SummariesMagic = "SSMCSUM1";
    private const string DocumentIdsMagic = "SSMCIDS1";
    private const string KnnGraphMagic = "SSMCKNN1";
    private const int KnnGraphSections = 2;

    /// <summary>Total bytes of the index's files on disk (manifest included).</summary>
    public static long DirectorySize(string directory)
    {
        long total = 0;
        foreach (var name in new[] { ManifestFile, ForwardFile, PostingsFile, SummariesFile, DocumentIdsFile, KnnGraphFile })
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path)) total += new FileInfo(path).Length;
        }
        return total;
    }

    internal static void Write(SeismicIndex index, string directory)
    {
        Directory.CreateDirectory(directory);
        var files = new JsonArray();
        void Record(string name, ChecksummedBinaryFile.Writer w) =>
            files.Add(new JsonObject { ["name"] = name, ["bytes"] = w.Length, ["crc32c"] = w.Checksum.ToString("x8", CultureInfo.InvariantCulture) });

        using (var w = new ChecksummedBinaryFile.Writer(Path.Combine(directory, ForwardFile), ForwardMagic, CurrentVersion, ForwardSections))
        {
            w.Section(index.Forward.Offsets);
            // Page-aligned, so the rows can be mapped and read in place (ForwardIndexResidence.MemoryMapped) with
            // every row at the same cache-line position as in memory; files written before (8-byte aligned) map too.
            w.BeginSection(ChecksummedBinaryFile.Element.UInt8, index.Forward.RowLength, RowsAlignment);
            var rowBytes = index.Forward.Rows;
            const int chunk = 1 << 22;
            for (int at = 0; at < rowBytes.Length; at += chunk) w.Append(rowBytes.Slice(at, Math.Min(chunk, rowBytes.Length - at)));
            w.EndSection();
            w.Section(index.RowDocuments);
            w.Commit();
            Record(ForwardFile, w);
        }
        var p = index.Postings;
        using (var w = new ChecksummedBinaryFile.Writer(Path.Combine(directory, PostingsFile), PostingsMagic, CurrentVersion, 3))
        {
            w.Section(p.TermBlockStart);
            w.Section(p.BlockDocStart);
            w.Section(p.DocIds);
            w.Commit();
            Record(PostingsFile, w);
        }
        var s = index.Summaries;
        var (summaryTerms, entryOffsets, entryBlocks, entryCodes) = s.RawArrays;
        using (var w = new ChecksummedBinaryFile.Writer(Path.Combine(directory, SummariesFile), SummariesMagic, CurrentVersion, SummarySections))
        {
            w.Section(s.BlockMin);
            w.Section(s.BlockScale);
            w.Section(s.TermComponentStart);
            w.Section(s.TermEntryStart);
            SectionOf(w, summaryTerms);
            SectionOf(w, entryOffsets);
            SectionOf(w, entryBlocks);
            w.Section(entryCodes);
            w.Commit();
            Record(SummariesFile, w);
        }
        var idsPath = Path.Combine(directory, DocumentIdsFile);
        if (index.DocumentIds is { } ids)
        {
            var offsets = new long[ids.Length + 1];
            for (int i = 0; i < ids.Length; i++) offsets[i + 1] = offsets[i] + Encoding.UTF8.GetByteCount(ids[i]);
            var utf8 = new byte[offsets[^1]];
            for (int i = 0; i < ids.Length; i++) Encoding.UTF8.GetBytes(ids[i], utf8.AsSpan((int)offsets[i]));
            using var w = new ChecksummedBinaryFile.Writer(idsPath, DocumentIdsMagic, CurrentVersion, 2);
            w.Section(offsets);
            w.Section(utf8);
            w.Commit();
            Record(DocumentIdsFile, w);
        }
        else if (File.Exists(idsPath))
        {
            File.Delete(idsPath);
        }

        var knnPath = Path.Combine(directory, KnnGraphFile);
        if (index.Graph is { } graph)
        {
            using var w = new ChecksummedBinaryFile.Writer(knnPath, KnnGraphMagic, CurrentVersion, KnnGraphSections);
            w.Section(new[] { graph.Kappa, graph.RowCount });
            w.Section(graph.Neighbours);
            w.Commit();
            Record(KnnGraphFile, w);
        }
        else if (File.Exists(knnPath))
        {
            File.Delete(knnPath);
        }

        SeismicManifest.Write(index, files, Path.Combine(directory, ManifestFile));
    }

    internal static SeismicIndex Read(string directory, SeismicOpenOptions? options = null)
    {
        options ??= SeismicOpenOptions.Default;
        if (!Directory.Exists(directory))
            throw new RetrievalException(ErrorKind.NotFound, $"index directory not found: {directory}");
        var manifestPath = Path.Combine(directory, ManifestFile);
        if (!File.Exists(manifestPath))
            throw new RetrievalException(ErrorKind.NotFound, $"{manifestPath}: no manifest.json, so {directory} is not an index directory");
        var m = SeismicManifest.Read(manifestPath);

        var fwd = OpenFile(directory, ForwardFile, ForwardMagic, m, ForwardSections);
        var offsets = fwd.Section<long>("document offsets");
        const string rowsSection = "rows (term ids then weights, per document)";
        bool mapped = options.ForwardIndex == ForwardIndexResidence.MemoryMapped;
        byte[]? rows = null;
        long rowsOffset = 0, rowsLength;
        if (mapped) (rowsOffset, rowsLength) = fwd.SectionExtent<byte>(rowsSection);
        else rowsLength = (rows = fwd.Section<byte>(rowsSection)).LongLength;
        var rowDocuments = fwd.Section<int>("row documents");
        fwd.ExpectEnd();
        if (rowDocuments.Length != m.Documents) throw fwd.Invalid($"{rowDocuments.Length} row documents for {m.Documents} rows");
        var documentSeen = new bool[m.Documents];
        for (int r = 0; r < rowDocuments.Length; r++)
        {
            int d = rowDocuments[r];
            if ((uint)d >= (uint)m.Documents || documentSeen[d])
                throw fwd.Invalid($"row {r} maps to document {d}: outside [0, {m.Documents}) or already mapped (row documents must be a permutation)");
            documentSeen[d] = true;
        }
        CheckOffsets(fwd, offsets, m.Documents + 1, m.NonZeros);
        long expectedRowBytes = m.NonZeros * ForwardIndex.EntryBytes(m.WideTerms, m.Options.Values);
        if (rowsLength != expectedRowBytes)
            throw fwd.Invalid($"rows hold {rowsLength} bytes, expected {expectedRowBytes} for {m.NonZeros} non-zeros");
        if (rowsLength > Array.MaxLength)
            throw fwd.Invalid($"rows hold {rowsLength} bytes, more than one forward index addresses; split the collection");
        // An empty forward index has nothing to map.
        if (mapped && rowsLength == 0) rows = [];
        var forward = rows is not null
            ? ForwardIndex.FromRows(offsets, m.Vocabulary, m.WideTerms, m.Options.Values, rows)
            : ForwardIndex.FromMapping(offsets, m.Vocabulary, m.WideTerms, m.Options.Values,
                MappedFileRegion.Open(Path.Combine(directory, ForwardFile), rowsOffset, rowsLength));
        try
        {
            return ReadRest(directory, m, fwd, forward, rowDocuments);
        }
        catch
        {
            forward.Dispose();
            throw;
        }
    }

    /// <summary>Validates the forward rows, reads the other files and assembles the index (the caller disposes <paramref name="forward"/> on failure).</summary>
    private static SeismicIndex ReadRest(string directory, SeismicManifest m, ChecksummedBinaryFile.Reader fwd, ForwardIndex forward, int[] rowDocuments)
    {
        ValidateForward(fwd, forward, m);
        // Validation read every mapped row: hand those pages back to the page cache, so this process's resident set
        // holds only the rows queries touch.
        forward.Mapping?.DropResidentPages();

        var pst = OpenFile(directory, PostingsFile, PostingsMagic, m, 3);
        var termBlockStart = pst.Section<int>("term block starts");
        var blockDocStart = pst.Section<int>("block document starts");
        var docIds = pst.Section<int>("document ids");
        pst.ExpectEnd();
        CheckOffsets(pst, termBlockStart, m.Vocabulary + 1, m.Blocks, "term block starts");
        CheckOffsets(pst, blockDocStart, m.Blocks + 1, docIds.Length, "block document starts");
        for (int b = 0; b < m.Blocks; b++)
            if (blockDocStart[b] == blockDocStart[b + 1]) throw pst.Invalid($"block {b} is empty");
        for (int i = 0; i < docIds.Length; i++)
            if ((uint)docIds[i] >= (uint)m.Documents) throw pst.Invalid($"posting {i} names document {docIds[i]}, outside [0, {m.Documents})");
        if (docIds.LongLength != m.Postings) throw pst.Invalid($"{docIds.Length} postings, manifest says {m.Postings}");

        var sum = OpenFile(directory, SummariesFile, SummariesMagic, m, SummarySections);
        var blockMin = sum.Section<float>("block minimums");
        var blockScale = sum.Section<float>("block scales");
        var termComponentStart = sum.Section<int>("term component starts");
        var termEntryStart = sum.Section<int>("term entry starts");
        var componentTerms = ReadIds(sum, "component terms");
        var entryOffsets = ReadIds(sum, "component entry offsets");
        Array entryBlocks = sum.NextElement == ChecksummedBinaryFile.Element.UInt8
            ? sum.Section<byte>("entry blocks") : sum.Section<ushort>("entry blocks");
        var entryCodes = sum.Section<byte>("entry codes");
        sum.ExpectEnd();
        if (blockMin.Length != m.Blocks || blockScale.Length != m.Blocks)
            throw sum.Invalid($"{blockMin.Length} block minimums and {blockScale.Length} scales for {m.Blocks} blocks");
        for (int b = 0; b < m.Blocks; b++)
            if (!float.IsFinite(blockMin[b]) || !float.IsFinite(blockScale[b]) || blockScale[b] < 0)
                throw sum.Invalid($"block {b} has min {blockMin[b]} and scale {blockScale[b]}: expected finite, scale >= 0");
        if (componentTerms.Length != entryOffsets.Length)
            throw sum.Invalid($"{componentTerms.Length} component terms but {entryOffsets.Length} entry offsets");
        CheckOffsets(sum, termComponentStart, m.Vocabulary + 1, componentTerms.Length, "term component starts");
        CheckOffsets(sum, termEntryStart, m.Vocabulary + 1, entryCodes.Length, "term entry starts");
        if (entryBlocks.Length != entryCodes.Length) throw sum.Invalid($"{entryBlocks.Length} entry blocks but {entryCodes.Length} codes");
        var summaries = QuantizedSummaries.Create(blockMin, blockScale, termComponentStart, termEntryStart, componentTerms, entryOffsets,
            entryBlocks, entryCodes);
        for (int t = 0; t < m.Vocabulary; t++)
        {
            int blocks = termBlockStart[t + 1] - termBlockStart[t];
            int first = termComponentStart[t], last = termComponentStart[t + 1];
            int entries = termEntryStart[t + 1] - termEntryStart[t];
            if (first == last && entries != 0) throw sum.Invalid($"term {t}: {entries} summary entries but no components");
            int previousEnd = termEntryStart[t];
            for (int c = first; c < last; c++)
            {
                int term = summaries.ComponentTerm(c);
                if ((uint)term >= (uint)m.Vocabulary || (c > first && term <= summaries.ComponentTerm(c - 1)))
                    throw sum.Invalid($"term {t}: summary component {c} (term {term}) is out of range or out of order");
                var (start, end) = summaries.ComponentEntries(t, c);
                if (start != previousEnd || end <= start || end > termEntryStart[t + 1])
                    throw sum.Invalid($"term {t}: summary component {c} has entries [{start}, {end}), expected a non-empty range from {previousEnd}");
                previousEnd = end;
                for (int e = start; e < end; e++)
                    if (summaries.EntryBlock(e) >= blocks) throw sum.Invalid($"term {t}: summary entry {e} names block {summaries.EntryBlock(e)} of {blocks}");
            }
        }

        string[]? ids = null;
        if (m.Files.ContainsKey(DocumentIdsFile))
        {
            var idf = OpenFile(directory, DocumentIdsFile, DocumentIdsMagic, m, 2);
            var idOffsets = idf.Section<long>("id offsets");
            var utf8 = idf.Section<byte>("id bytes");
            idf.ExpectEnd();
            if (idOffsets.Length != m.Documents + 1 || idOffsets[0] != 0 || idOffsets[^1] != utf8.Length)
                throw idf.Invalid($"{idOffsets.Length - 1} ids for {m.Documents} documents or offsets not spanning {utf8.Length} bytes");
            ids = new string[m.Documents];
            for (int i = 0; i < ids.Length; i++)
            {
                if (idOffsets[i + 1] < idOffsets[i]) throw idf.Invalid($"id offsets decrease at id {i}");
                ids[i] = Encoding.UTF8.GetString(utf8, (int)idOffsets[i], (int)(idOffsets[i + 1] - idOffsets[i]));
            }
        }
        var index = new SeismicIndex(m.Options, forward,
            new PostingLists(termBlockStart, blockDocStart, docIds),
            summaries,
            rowDocuments, ids, buildStats: null);
        if (ReadGraph(directory, m) is { } graph) index.AttachGraph(graph);
        return index;
    }

    /// <summary>knn.bin when the manifest lists one (kappa from the manifest must match the file's), validated; else null.</summary>
    private static KnnGraph? ReadGraph(string directory, SeismicManifest m)
    {
        int kappa = m.Options.KnnNeighbours;
        bool listed = m.Files.ContainsKey(KnnGraphFile);
        if (kappa == 0 && !listed) return null;
        if (kappa == 0)
            throw new DataFormatException(Path.Combine(directory, ManifestFile), $"lists {KnnGraphFile} but knn_neighbours is 0");
        var file = OpenFile(directory, KnnGraphFile, KnnGraphMagic, m, KnnGraphSections);
        var shape = file.Section<int>("graph shape (kappa, rows)");
        var neighbours = file.Section<int>("neighbour rows");
        file.ExpectEnd();
        if (shape.Length != 2 || shape[0] != kappa || shape[1] != m.Documents)
            throw file.Invalid($"graph shape [{string.Join(", ", shape)}], expected [kappa {kappa}, rows {m.Documents}] from the manifest");
        if (KnnGraph.FindProblem(kappa, m.Documents, neighbours) is { } problem) throw file.Invalid(problem);
        return new KnnGraph(kappa, m.Documents, neighbours);
    }

    private const int SummarySections = 8;
    private const int ForwardSections = 3;
    /// <summary>Alignment of forward.bin's rows in the file: a 4 KiB page.</summary>
    internal const int RowsAlignment = 4096;

    private static void SectionOf(ChecksummedBinaryFile.Writer w, Array data)
    {
        switch (data)
        {
            case byte[] a: w.Section(a); break;
            case ushort[] a: w.Section(a); break;
            case int[] a: w.Section(a); break;
            default: throw new ArgumentException($"unsupported section array {data.GetType().Name}");
        }
    }

    private static Array ReadIds(ChecksummedBinaryFile.Reader file, string what) =>
        file.NextElement == ChecksummedBinaryFile.Element.UInt16 ? file.Section<ushort>(what) : file.Section<int>(what);

    private static ChecksummedBinaryFile.Reader OpenFile(string directory, string name, string magic, SeismicManifest m, int sections)
    {
        var path = Path.Combine(directory, name);
        if (!m.Files.TryGetValue(name, out var entry))
            throw new DataFormatException(Path.Combine(directory, ManifestFile), $"manifest does not list {name}");
        var reader = new ChecksummedBinaryFile.Reader(path, magic, CurrentVersion, OldestReadableVersion, entry.Bytes, entry.Crc);
        if (reader.SectionCount != sections) throw reader.Invalid($"header declares {reader.SectionCount} sections, expected {sections}");
        return reader;
    }

    private static void ValidateForward(ChecksummedBinaryFile.Reader file, ForwardIndex forward, SeismicManifest m)
    {
        int longest = 0;
        for (int d = 0; d < m.Documents; d++) longest = Math.Max(longest, forward.LengthOf(d));
        var terms = new int[longest];
        var weights = new float[longest];
        for (int d = 0; d < m.Documents; d++)
        {
            int n = forward.CopyRow(d, terms, weights);
            int previous = -1;
            for (int e = 0; e < n; e++)
            {
                int term = terms[e];
                if (term >= m.Vocabulary || term <= previous)
                    throw file.Invalid($"row {d}: term id {term} out of range [0, {m.Vocabulary}) or not increasing after {previous}");
                float w = weights[e];
                if (!(w >= 0) || float.IsInfinity(w)) throw file.Invalid($"row {d}: term {term} has weight {w}, expected finite and >= 0");
                previous = term;
            }
        }
    }

    private static void CheckOffsets(ChecksummedBinaryFile.Reader file, int[] offsets, int expectedLength, long total, string what)
    {
        if (offsets.Length != expectedLength) throw file.Invalid($"{what}: {offsets.Length} entries, expected {expectedLength}");
        if (offsets[0] != 0 || offsets[^1] != total) throw file.Invalid($"{what} run {offsets[0]}..{offsets[^1]}, expected 0..{total}");
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] < offsets[i - 1]) throw file.Invalid($"{what} decrease at entry {i}");
    }

    private static void CheckOffsets(ChecksummedBinaryFile.Reader file, long[] offsets, int expectedLength, long total)
    {
        if (offsets.Length != expectedLength) throw file.Invalid($"document offsets: {offsets.Length} entries, expected {expectedLength}");
        if (offsets[0] != 0 || offsets[^1] != total) throw file.Invalid($"document offsets run {offsets[0]}..{offsets[^1]}, expected 0..{total}");
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] < offsets[i - 1]) throw file.Invalid($"document offsets decrease at entry {i}");
    }

}
