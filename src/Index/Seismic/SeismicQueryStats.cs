using System.Diagnostics;

namespace Retrieval.Index.Seismic;

/// <summary>
/// Work counters of one or more Seismic searches (summed over a batch). Timings are filled only when
/// <see cref="SeismicSearchParameters.CollectTimings"/> is set.
/// </summary>
public struct SeismicQueryStats
{
    public long Queries;
    /// <summary>Inverted lists visited (at most QueryCut per query).</summary>
    public long ListsVisited;
    /// <summary>Blocks whose documents were scored exactly.</summary>
    public long BlocksScored;
    /// <summary>Blocks skipped because their summary score could not reach the heap.</summary>
    public long BlocksSkipped;
    /// <summary>Documents scored exactly from the forward index (each at most once per query).</summary>
    public long DocumentsScored;
    /// <summary>Of <see cref="DocumentsScored"/>, those scored as kNN-graph neighbours of the heap (refinement).</summary>
    public long KnnDocumentsScored;
    /// <summary>Summary entries read while scoring block summaries.</summary>
    public long SummaryEntriesRead;
    public long SummaryTicks;
    public long DocumentTicks;

    public readonly double SummarySeconds => (double)SummaryTicks / Stopwatch.Frequency;
    public readonly double DocumentSeconds => (double)DocumentTicks / Stopwatch.Frequency;

    public void Add(in SeismicQueryStats other)
    {
        Queries += other.Queries;
        ListsVisited += other.ListsVisited;
        BlocksScored += other.BlocksScored;
        BlocksSkipped += other.BlocksSkipped;
        DocumentsScored += other.DocumentsScored;
        SummaryEntriesRead += other.SummaryEntriesRead;
        KnnDocumentsScored += other.KnnDocumentsScored;
        SummaryTicks += other.SummaryTicks;
        DocumentTicks += other.DocumentTicks;
    }
}
