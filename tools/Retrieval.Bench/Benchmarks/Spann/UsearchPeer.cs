using System.Reflection;
using System.Runtime.InteropServices;
using Cloud.Unum.USearch;
using Retrieval.Bench.Reporting;
using Retrieval.Index.Errors;
using Retrieval.Index.Search;
using Retrieval.Index.Vectors;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Benchmarks.Spann;

/// <summary>HNSW's search knob: the expansion (ef) of the candidate list.</summary>
public sealed record UsearchParameters(int Expansion) : SearchParameters
{
    public override IReadOnlyList<ReportField> Describe() => [new("ef", Expansion)];
}

/// <summary>
/// The in-memory HNSW peer (Cloud.Unum.USearch) in the SPANN benchmark. Vectors are added from one thread: the
/// C# wrapper exposes no reserve, and concurrent adds fail ("Reserve capacity ahead of insertions").
/// The wrapper fixes ef at construction; the C API's usearch_change_expansion_search changes it per setting.
/// </summary>
public sealed class UsearchPeer : ISearchIndex
{
    public static readonly int[] SweepExpansions = [16, 32, 64, 128, 256];

    private readonly USearchIndex _index;
    private readonly nint _handle;
    private readonly Lock _lock = new();
    private int _currentExpansion = -1;

    private UsearchPeer(USearchIndex index, Metric metric, int count, int dimension, long bytes)
    {
        _index = index;
        Metric = metric;
        Count = count;
        Dimension = dimension;
        ResidentBytes = bytes;
        _handle = (nint)(typeof(USearchIndex).GetField("_index", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(index)
                  ?? throw new RetrievalException(ErrorKind.Internal, "USearch wrapper layout changed: no _index field"));
    }

    public string Kind => "usearch-hnsw";
    public Metric Metric { get; }
    public int Count { get; }
    public int Dimension { get; }
    public bool IsSparse => false;
    public long? BytesOnDisk => null;
    public bool ScoresAreExact => false;
    /// <summary>Process memory the build added (native graph + vectors), measured around it.</summary>
    public long ResidentBytes { get; }
    public SearchParameters DefaultParameters => new UsearchParameters(64);
    public IReadOnlyList<SearchParameters> SweepParameters
    {
        get
        {
            var list = new List<SearchParameters>();
            foreach (int ef in SweepExpansions) list.Add(new UsearchParameters(ef));
            return list;
        }
    }

    /// <summary>Builds HNSW (connectivity M, expansion at add) over the vectors stored as float16, adding on one thread.</summary>
    public static UsearchPeer Build(DenseVectors vectors, Metric metric, int connectivity = 16, int expansionAdd = 128)
    {
        long before = ProcessMemory.ResidentBytes();
        var kind = metric switch { Metric.L2 => MetricKind.L2sq, Metric.InnerProduct => MetricKind.Ip, _ => MetricKind.Cos };
        var index = new USearchIndex(kind, ScalarKind.Float16, (ulong)vectors.Dimension, (ulong)connectivity, (ulong)expansionAdd, 64);
        var row = new float[vectors.Dimension];
        for (int i = 0; i < vectors.Count; i++)
        {
            vectors.CopyRowTo(i, row);
            index.Add((ulong)i, row);
        }
        return new UsearchPeer(index, metric, vectors.Count, vectors.Dimension, ProcessMemory.ResidentBytes() - before);
    }

    [DllImport("libusearch_c", EntryPoint = "usearch_change_expansion_search")]
    private static extern void ChangeExpansionSearch(nint index, nuint expansion, out nint error);

    private void Use(int expansion)
    {
        if (expansion == _currentExpansion) return;
        lock (_lock)
        {
            ChangeExpansionSearch(_handle, (nuint)expansion, out var error);
            if (error != 0) throw new RetrievalException(ErrorKind.Internal, "usearch_change_expansion_search failed: " + Marshal.PtrToStringAnsi(error));
            _currentExpansion = expansion;
        }
    }

    public void SearchOne(QuerySet queries, int query, int k, SearchParameters parameters, Span<int> ids, Span<float> scores)
    {
        Use(((UsearchParameters)parameters).Expansion);
        var q = queries.Dense!.Float32Row(query).ToArray();
        int found = _index.Search(q, k, out var keys, out var distances);
        for (int i = 0; i < found; i++)
        {
            ids[i] = (int)keys[i];
            // USearch returns distances: 1 - cos for cosine, 1 - ip for inner product, squared L2 for l2.
            scores[i] = Metric == Metric.L2 ? distances[i] : 1 - distances[i];
        }
        ids[found..k].Fill(-1);
        scores[found..k].Fill(float.NaN);
    }

    public SearchResults SearchBatch(QuerySet queries, int k, SearchParameters parameters, int threads)
    {
        var results = new SearchResults(queries.Count, k);
        Parallel.For(0, queries.Count, new ParallelOptions { MaxDegreeOfParallelism = threads == 0 ? Environment.ProcessorCount : threads },
            q => SearchOne(queries, q, k, parameters, results.IdsOf(q), results.ScoresOf(q)));
        return results;
    }

    public void Dispose() => _index.Dispose();
}
