namespace Retrieval.Index.Spann;

/// <summary>Names and versions of a SPANN index directory's files (Tantivy's habit: current and oldest readable version).</summary>
public static class SpannFormat
{
    public const string Name = "spann";
    /// <summary>2: heads may be stored as uint8 (uint8 inputs); version 1 directories (float32/float16 heads) still open.</summary>
    public const int CurrentVersion = 2;
    public const int OldestReadableVersion = 1;

    public const string ManifestFile = "manifest.json";
    public const string HeadsFile = "heads.bin";
    public const string GraphFile = "graph.bin";
    public const string DirectoryFile = "directory.bin";
    public const string PostingsFile = "postings.bin";
    /// <summary>Full-precision vectors in id order, present when posting storage is lossy (for exact re-ranking).</summary>
    public const string FullVectorsFile = "vectors.bin";

    public const string HeadsMagic = "SPNHEAD1";
    public const string PostingsMagic = "SPNPOST1";
    public const string FullVectorsMagic = "SPNFULL1";

    /// <summary>postings.bin and vectors.bin keep their header in a whole first page so the data that follows is page aligned.</summary>
    public const int DataOffset = PostingLayout.PageBytes;
}
