namespace Retrieval.Index.Spann;

/// <summary>Names and versions of a SPANN index directory's files (Tantivy's habit: current and oldest readable version).</summary>
public static class SpannFormat
{
    public const string Name = "spann";
    /// <summary>
    /// 3: every binary file in the checksummed section framing (CRC-32C) shared by all index files, postings and
    /// full vectors in a 4 KiB-aligned section. 2: heads may be stored as uint8 (uint8 inputs). Versions 1 and 2
    /// (the retired 48-byte header framing) still open.
    /// </summary>
    public const int CurrentVersion = 3;
    public const int OldestReadableVersion = 1;
    /// <summary>The last version written in the retired header framing (read by the storage layer's legacy reader).</summary>
    public const int LastLegacyVersion = 2;

    public const string ManifestFile = "manifest.json";
    public const string HeadsFile = "heads.bin";
    public const string GraphFile = "graph.bin";
    public const string DirectoryFile = "directory.bin";
    public const string PostingsFile = "postings.bin";
    /// <summary>Full-precision vectors in id order, present when posting storage is lossy (for exact re-ranking).</summary>
    public const string FullVectorsFile = "vectors.bin";

    public const string HeadsMagic = "SPNHEAD1";
    public const string GraphMagic = "SPNGRAPH";
    public const string DirectoryMagic = "SPNPDIR1";
    public const string PostingsMagic = "SPNPOST1";
    public const string FullVectorsMagic = "SPNFULL1";

    /// <summary>postings.bin and vectors.bin keep their data from the second 4 KiB page on, so every posting and row page is aligned.</summary>
    public const int DataOffset = PostingLayout.PageBytes;
}
