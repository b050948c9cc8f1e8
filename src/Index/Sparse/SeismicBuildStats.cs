namespace Retrieval.Index.Sparse;

/// <summary>What a build produced: seconds, empty documents (kept, never returned), postings kept, blocks, summary entries.</summary>
public sealed record SeismicBuildStats(double BuildSeconds, int EmptyDocuments, long PostingCount, int BlockCount,
    long SummaryEntryCount);
