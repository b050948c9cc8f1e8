using Retrieval.Index.Errors;
using Retrieval.Index.Seismic;

namespace Retrieval.Bench.Benchmarks.Seismic;

/// <summary>Settings of <see cref="SeismicBenchmark"/>. Dataset names resolve through the dataset locator.</summary>
public sealed record SeismicBenchmarkOptions
{
    public const int DefaultK = 10;
    public const int DefaultQueryCount = 1000;

    /// <summary>Which sets to run: any of "passages", "scifact", "toy".</summary>
    public IReadOnlyList<string> Datasets { get; init; } = ["toy", "scifact", "passages"];
    public string PassagesDataset { get; init; } = "passages";
    public string SciFactDataset { get; init; } = "scifact";
    public string ToyDataset { get; init; } = "seismic-toy";

    /// <summary>Passages indexed (0 = all 395,436).</summary>
    public int MaxPassages { get; init; }
    /// <summary>Passage queries searched and timed (0 = all 10,000).</summary>
    public int MaxQueries { get; init; } = DefaultQueryCount;
    public int K { get; init; } = DefaultK;

    /// <summary>Seismic build for the passages set (BM25 document vectors).</summary>
    public SeismicBuildOptions PassagesBuild { get; init; } = SeismicBuildOptions.Default with
    {
        Pruning = PostingPruning.GlobalBudget,
        AvgPostings = 150,
        MaxFraction = 10,
    };
    /// <summary>Seismic build for SciFact (5,183 abstracts; small lists, so the default budget keeps everything).</summary>
    public SeismicBuildOptions SciFactBuild { get; init; } = SeismicBuildOptions.Default;

    public IReadOnlyList<int> QueryCuts { get; init; } = [3, 5, 8, 12];
    public IReadOnlyList<float> HeapFactors { get; init; } = [0.6f, 0.65f, 0.7f, 0.75f, 0.8f, 0.9f, 1.0f];
    /// <summary>Heap factor growths swept (<see cref="SeismicSearchParameters.HeapFactorGrowth"/>), each on every query cut and heap factor.</summary>
    public IReadOnlyList<float> HeapFactorGrowths { get; init; } = [0f];

    public bool IncludeLucene { get; init; } = true;

    /// <summary>
    /// kNN graph neighbours per document (kappa) for the passages and SciFact builds (0 = no graph). With a graph, every
    /// sweep configuration runs twice on the same index, with and without the refinement step, back to back.
    /// </summary>
    public int KnnNeighbours { get; init; }

    /// <summary>Refinement widths swept with a graph (<see cref="SeismicSearchParameters.KnnExpand"/>; 0 = all kappa).</summary>
    public IReadOnlyList<int> KnnExpands { get; init; } = [0];

    /// <summary>Rows sampled to measure the kNN graph's recall against exact neighbours (brute force over all rows each).</summary>
    public int GraphRecallSample { get; init; } = 200;

    /// <summary>Forward row orders to build and sweep on every set (each a separate build, same exact/Lucene run).</summary>
    public IReadOnlyList<ForwardRowOrder> RowOrders { get; init; } = [ForwardRowOrder.BlockLocality];

    /// <summary>
    /// Where each opened index keeps its forward index (<see cref="SeismicIndex.Open(string, SeismicOpenOptions?)"/>): every build is
    /// opened once per residence and each sweep configuration runs on all of them back to back (same files, same load).
    /// </summary>
    public IReadOnlyList<ForwardIndexResidence> ForwardResidences { get; init; } = [ForwardIndexResidence.Memory];

    /// <summary>
    /// Build Seismic over the score-preserving sqrt(idf) split of the BM25 vectors (<see cref="Sparse.IdfSplitWeighting"/>)
    /// instead of the encoder's raw weights; exact search and Lucene always use the raw vectors (same scores).
    /// </summary>
    public bool IdfSplit { get; init; }

    /// <summary>Block visiting orders swept (<see cref="SeismicSearchParameters.BlockOrder"/>), each on every query cut and heap factor.</summary>
    public IReadOnlyList<SeismicBlockOrder> BlockOrders { get; init; } = [SeismicSearchParameters.DefaultBlockOrder];
    /// <summary>Threads of the batch (throughput) runs; single-query latency always uses one thread.</summary>
    public int Threads { get; init; }
    /// <summary>Where the Lucene and Seismic indexes are written (to measure on-disk size); a temp folder when null.</summary>
    public string? WorkDirectory { get; init; }

    public void Validate()
    {
        Guard.ValidK(K);
        if (MaxPassages < 0) Guard.ThrowInvalid($"MaxPassages must be >= 0 (0 = all), got {MaxPassages}");
        if (MaxQueries < 0) Guard.ThrowInvalid($"MaxQueries must be >= 0 (0 = all), got {MaxQueries}");
        if (KnnNeighbours < 0 || KnnNeighbours > SeismicBuildOptions.MaxKnnNeighbours)
            Guard.ThrowInvalid($"KnnNeighbours must be in [0, {SeismicBuildOptions.MaxKnnNeighbours}] (0 = no graph), got {KnnNeighbours}");
        foreach (int e in KnnExpands) if (e < 0) Guard.ThrowInvalid($"KnnExpands must be >= 0 (0 = all kappa), got {e}");
        if (GraphRecallSample < 0) Guard.ThrowInvalid($"GraphRecallSample must be >= 0, got {GraphRecallSample}");
        if (Threads < 0) Guard.ThrowInvalid($"Threads must be >= 0 (0 = all cores), got {Threads}");
        if (RowOrders.Count == 0) Guard.ThrowInvalid("at least one forward row order is needed");
        foreach (var order in RowOrders) if (!Enum.IsDefined(order)) Guard.ThrowInvalid($"unknown row order {order}");
        if (ForwardResidences.Count == 0) Guard.ThrowInvalid("at least one forward residence is needed");
        foreach (var r in ForwardResidences) if (!Enum.IsDefined(r)) Guard.ThrowInvalid($"unknown forward residence {r}");
        if (ForwardResidences.Distinct().Count() != ForwardResidences.Count) Guard.ThrowInvalid("forward residences are listed twice");
        if (QueryCuts.Count == 0 || HeapFactors.Count == 0) Guard.ThrowInvalid("the sweep needs at least one query cut and one heap factor");
        foreach (var d in Datasets)
            if (d is not ("passages" or "scifact" or "toy")) Guard.ThrowInvalid($"unknown benchmark set '{d}': expected passages, scifact or toy");
        PassagesBuild.Validate();
        SciFactBuild.Validate();
        foreach (int qc in QueryCuts) new SeismicSearchParameters { QueryCut = qc }.Validate();
        foreach (float hf in HeapFactors) new SeismicSearchParameters { HeapFactor = hf }.Validate();
        if (HeapFactorGrowths.Count == 0) Guard.ThrowInvalid("the sweep needs at least one heap factor growth (0 = none)");
        foreach (float g in HeapFactorGrowths) new SeismicSearchParameters { HeapFactorGrowth = g }.Validate();
        if (BlockOrders.Count == 0) Guard.ThrowInvalid("the sweep needs at least one block order");
        foreach (var order in BlockOrders) new SeismicSearchParameters { BlockOrder = order }.Validate();
    }
}
