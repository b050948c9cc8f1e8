namespace Retrieval.Index.Seismic;

/// <summary>
/// What a build produced: seconds (the kNN graph included), empty documents (kept, never returned), postings kept,
/// blocks, summary entries, and the seconds spent building the kNN graph (0 without one).
/// </summary>
public sealed record SeismicBuildStats(double BuildSeconds, int EmptyDocuments, long PostingCount, int BlockCount,
    long SummaryEntryCount, double KnnGraphSeconds = 0);
