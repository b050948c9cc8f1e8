using Retrieval.Index.Search;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Indexes;

/// <summary>
/// The contract every searchable index offers the query layer (the CLI's search and bench commands, later the
/// service): single-query search into caller-owned spans, for latency measured on one thread, and batched
/// search across threads, for throughput. Settings come per call, never stored on the index.
/// </summary>
public interface ISearchIndex : IDisposable
{
    /// <summary>Index kind as printed in result lines: "exact", "spann", "seismic", ...</summary>
    string Kind { get; }
    Metric Metric { get; }
    /// <summary>Number of indexed vectors (ids run 0..Count-1 in the order of the base file).</summary>
    int Count { get; }
    /// <summary>Dense dimension, or the vocabulary size for sparse indexes.</summary>
    int Dimension { get; }
    /// <summary>True when queries must be sparse.</summary>
    bool IsSparse { get; }
    /// <summary>Bytes of the index's files on disk; null when the index lives only in memory.</summary>
    long? BytesOnDisk { get; }

    /// <summary>True when returned scores are exact (exact search, or an index that rescores its candidates
    /// exactly), which lets recall use ground-truth scores to accept ties at rank k.</summary>
    bool ScoresAreExact { get; }

    /// <summary>Settings used when the user asks for none.</summary>
    SearchParameters DefaultParameters { get; }

    /// <summary>The parameters a --sweep runs, from fastest to most accurate; the default is among them.</summary>
    IReadOnlyList<SearchParameters> SweepParameters { get; }

    /// <summary>Searches query <paramref name="query"/> of <paramref name="queries"/>; writes k ids and scores, best first, padded with -1 / NaN.</summary>
    void SearchOne(QuerySet queries, int query, int k, SearchParameters parameters, Span<int> ids, Span<float> scores);

    /// <summary>Searches every query; <paramref name="threads"/> 0 means all cores.</summary>
    SearchResults SearchBatch(QuerySet queries, int k, SearchParameters parameters, int threads);
}

/// <summary>
/// An index that reads from storage during search reports cumulative counters; result lines divide the
/// difference over a run by its query count (bytes_read_per_query, reads_per_query).
/// </summary>
public interface IReportsReads
{
    long BytesRead { get; }
    long ReadCount { get; }
}
