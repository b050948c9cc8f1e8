using Retrieval.Index.Errors;
using Retrieval.Index.Graphs;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>Everything <see cref="SpannIndexReader.Open"/> loads and checks: what a search pipeline is built from.</summary>
internal sealed record SpannIndexFiles(
    string Directory,
    SpannManifest Manifest,
    HeadSet Heads,
    NavigationGraph Graph,
    PostingDirectory Postings,
    long BytesOnDisk,
    string PostingsPath,
    string? FullVectorsPath,
    long FullVectorsDataOffset);

/// <summary>
/// Opens and validates a SPANN index directory: the manifest, then heads, graph, posting directory, the postings
/// file's framing and (when re-ranking) the full vectors, each checked against the manifest's length and checksum.
/// Files of format version 3 are in <see cref="ChecksummedBinaryFile"/>'s framing; versions 1 and 2 (the file's own
/// version field says which) in the retired one, read by <see cref="LegacyIndexFileHeader"/>.
/// </summary>
internal static class SpannIndexReader
{
    public static SpannIndexFiles Open(string directory, SpannOpenOptions options)
    {
        if (!System.IO.Directory.Exists(directory)) throw new RetrievalException(ErrorKind.NotFound, $"SPANN index directory not found: {directory}");
        var manifestPath = Path.Combine(directory, SpannFormat.ManifestFile);
        if (!File.Exists(manifestPath))
            throw new RetrievalException(ErrorKind.NotFound, $"{directory} is not a SPANN index: {SpannFormat.ManifestFile} not found (an interrupted build leaves no manifest)");
        var manifest = SpannManifest.Parse(manifestPath, File.ReadAllText(manifestPath));
        long bytes = new FileInfo(manifestPath).Length;
        var entries = new Dictionary<string, SpannFileEntry>();
        foreach (var f in manifest.Files) entries[f.Name] = f;
        SpannFileEntry Expect(string name)
        {
            if (!entries.TryGetValue(name, out var entry))
                throw new DataFormatException(manifestPath, $"the manifest lists no file '{name}'");
            var path = Path.Combine(directory, name);
            if (!File.Exists(path)) throw new RetrievalException(ErrorKind.Corrupt, $"index file missing: {path} (listed in {manifestPath})");
            long length = new FileInfo(path).Length;
            if (length != entry.Bytes)
                throw new DataFormatException(path, $"file is {length} bytes but the manifest records {entry.Bytes} (truncated or replaced)");
            bytes += length;
            return entry;
        }

        var headsPath = Path.Combine(directory, SpannFormat.HeadsFile);
        var headsEntry = Expect(SpannFormat.HeadsFile);
        var headsFile = ReadSmall(headsPath, SpannFormat.HeadsMagic);
        CheckSum(directory, headsEntry, headsFile.Checksum);
        var heads = HeadSet.Deserialize(headsPath, headsFile.Payload, manifest.HeadCount, manifest.Dimension, manifest.HeadElement, manifest.VectorCount);

        var graphPath = Path.Combine(directory, SpannFormat.GraphFile);
        var graphEntry = Expect(SpannFormat.GraphFile);
        var graphFile = ReadSmall(graphPath, SpannFormat.GraphMagic);
        CheckSum(directory, graphEntry, graphFile.Checksum);
        var graph = NavigationGraph.Deserialize(graphPath, graphFile.Payload, manifest.HeadCount);

        var postingsEntry = Expect(SpannFormat.PostingsFile);
        var postingsPath = Path.Combine(directory, SpannFormat.PostingsFile);
        var postingsData = OpenLarge(directory, postingsPath, SpannFormat.PostingsMagic, "postings", postingsEntry);

        var directoryPath = Path.Combine(directory, SpannFormat.DirectoryFile);
        var dirEntry = Expect(SpannFormat.DirectoryFile);
        var dirFile = ReadSmall(directoryPath, SpannFormat.DirectoryMagic);
        CheckSum(directory, dirEntry, dirFile.Checksum);
        var layout = new PostingLayout(manifest.Storage, manifest.Metric, manifest.Dimension);
        var postings = PostingDirectory.Deserialize(directoryPath, dirFile.Payload, manifest.HeadCount,
            postingsData.Offset + postingsData.Length, layout, postingsData.Offset);
        if (options.VerifyPostingChecksums) postingsData.Verify();

        string? fullPath = null;
        long fullOffset = SpannFormat.DataOffset;
        if (manifest.Rerank)
        {
            var fullEntry = Expect(SpannFormat.FullVectorsFile);
            fullPath = Path.Combine(directory, SpannFormat.FullVectorsFile);
            var full = OpenLarge(directory, fullPath, SpannFormat.FullVectorsMagic, "vectors", fullEntry);
            long expected = PostingLayout.AlignUp((long)manifest.VectorCount * manifest.Dimension * manifest.SourceElement.SizeInBytes(), PostingLayout.PageBytes);
            if (full.Length != expected)
                throw new DataFormatException(fullPath, $"holds {full.Length} bytes of vectors, expected {expected}");
            if (full.Offset != SpannFormat.DataOffset)
                throw new DataFormatException(fullPath, $"vectors start at byte {full.Offset}, expected {SpannFormat.DataOffset}");
            fullOffset = full.Offset;
            if (options.VerifyPostingChecksums) full.Verify();
        }
        return new SpannIndexFiles(directory, manifest, heads, graph, postings, bytes, postingsPath, fullPath, fullOffset);
    }

    private static SmallIndexFileContents ReadSmall(string path, string magic) =>
        SmallIndexFile.Read(path, magic, SpannFormat.OldestReadableVersion, SpannFormat.CurrentVersion, SpannFormat.LastLegacyVersion);

    private static void CheckSum(string directory, SpannFileEntry entry, ulong fileChecksum)
    {
        if (entry.Checksum != fileChecksum)
            throw new DataFormatException(Path.Combine(directory, entry.Name),
                $"payload checksum {fileChecksum:x16} differs from the manifest's {entry.Checksum:x16} (files from different builds?)");
    }

    /// <summary>Where a large file's data (postings or vectors) lies, and how to hash all of it when asked to.</summary>
    private readonly record struct LargeFileData(long Offset, long Length, Action Verify);

    /// <summary>Checks a large file's framing and its checksum against the manifest without reading its data.</summary>
    private static LargeFileData OpenLarge(string directory, string path, string magic, string what, SpannFileEntry entry)
    {
        if (SmallIndexFile.IsLegacy(path, SpannFormat.LastLegacyVersion))
        {
            var header = LegacyIndexFileHeader.ReadFrom(path, magic, SpannFormat.OldestReadableVersion, SpannFormat.LastLegacyVersion);
            CheckSum(directory, entry, header.PayloadChecksum);
            return new LargeFileData(header.PayloadOffset, header.PayloadLength, () => header.VerifyPayload(path));
        }
        const uint oldest = SpannFormat.LastLegacyVersion + 1;
        var reader = new ChecksummedBinaryFile.Reader(path, magic, SpannFormat.CurrentVersion, oldest, expectedLength: null, expectedChecksum: null,
            verifyChecksum: false);
        CheckSum(directory, entry, reader.Checksum);
        var (offset, length) = reader.SectionExtent<byte>(what);
        reader.ExpectEnd();
        return new LargeFileData(offset, length,
            () => _ = new ChecksummedBinaryFile.Reader(path, magic, SpannFormat.CurrentVersion, oldest, expectedLength: null, expectedChecksum: null));
    }
}
