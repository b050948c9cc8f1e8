using Retrieval.Index.Attention;
using Retrieval.Index.Errors;

namespace Retrieval.Bench.Benchmarks.Kv;

/// <summary>Settings of <see cref="KvBenchmark"/>; defaults are RetrievalAttention's evaluation setting (k = 100 and 10, S = 4, W = 256).</summary>
public sealed record KvBenchmarkOptions
{
    /// <summary>Dataset name (under the shared datasets root) or folder.</summary>
    public string Dataset { get; init; } = "kv-minilm";
    public int[] Ks { get; init; } = [100, 10];
    /// <summary>Decode queries used (the first n of query_positions; 0 = all).</summary>
    public int QueryCount { get; init; }
    public AttentionIndexOptions IndexOptions { get; init; } = AttentionIndexOptions.Default;
    public int[] SearchBeamWidths { get; init; } = [100, 150, 160, 200, 250, 300, 500];
    public int IvfLists { get; init; } = 1024;
    public int[] IvfProbes { get; init; } = [16, 32, 64, 128, 256];
    public int HnswConnectivity { get; init; } = 16;
    public int HnswExpansionAdd { get; init; } = 128;
    public int[] HnswBeamWidths { get; init; } = [100, 200, 400, 800, 1600];
    /// <summary>
    /// Also run the ablation: the same graph search over a graph built from keys only (our insertion builder
    /// with the inner-product RNG rule; weaker than USearch's HNSW on this data, so off by default).
    /// </summary>
    public bool KeyOnlyGraph { get; init; }
    public int[] KeyOnlyBeamWidths { get; init; } = [100, 200, 400, 800];
    public int SinkTokens { get; init; } = 4;
    public int WindowTokens { get; init; } = 256;
    /// <summary>Decode queries over which the attention error is averaged (full attention costs a scan each).</summary>
    public int AttentionQueries { get; init; } = 200;
    /// <summary>Decode appends measured against a full rebuild (0 = skip).</summary>
    public int Appends { get; init; } = 10_000;
    /// <summary>ef of the append-recall and batched-heads lines: recall@100 ~0.953 on kv-minilm at the default M 48.</summary>
    public int AppendBeamWidth { get; init; } = 160;
    /// <summary>Heads per batched call measured (the 32-head case replicates the real head, see the report).</summary>
    public int[] BatchHeads { get; init; } = [12, 32];
    public int BatchCalls { get; init; } = 100;
    public int Threads { get; init; }
    /// <summary>Peers to skip ("exact", "ivf", "hnsw", "keygraph", "attention", "append" (or one mode: "append-guided", "append-buffered"), "batch").</summary>
    public string[] Skip { get; init; } = [];

    public KvBenchmarkOptions Validate()
    {
        IndexOptions.Validate();
        foreach (int k in Ks) Guard.ValidK(k);
        if (Ks.Length == 0) Guard.ThrowInvalid("at least one k is needed");
        if (QueryCount < 0) Guard.ThrowInvalid($"QueryCount must be >= 0, got {QueryCount}");
        if (SinkTokens < 0 || WindowTokens < 0) Guard.ThrowInvalid("SinkTokens and WindowTokens must be >= 0");
        if (Appends < 0) Guard.ThrowInvalid($"Appends must be >= 0, got {Appends}");
        if (IvfLists < 1) Guard.ThrowInvalid($"IvfLists must be >= 1, got {IvfLists}");
        return this;
    }

    internal bool Runs(string part) => Array.IndexOf(Skip, part) < 0;
}

/// <summary>One method at one setting and one k.</summary>
public sealed record KvBenchmarkRow(
    string Head,
    string Method,
    string Settings,
    int K,
    double RecallAtK,
    double KeysScoredFraction,
    double MeanUs,
    double P99Us,
    double BuildSecondsPerHead,
    long IndexBytes,
    double AttentionRelError,
    double BuildCpuSecondsPerHead,
    double AttentionMass,
    double CpuUs = double.NaN);

/// <summary>Recall after decode appends: the incrementally extended index against a full rebuild.</summary>
public sealed record KvAppendResult(string Head, string Mode, double ObserveMeanUs, int Appends, int SearchBeamWidth, int K, double AppendedRecall, double AppendedKeysScoredFraction,
    double RebuiltRecall, double RebuiltKeysScoredFraction, double AppendMeanUs, double AppendP99Us, double AppendMaxUs, double RebuildSeconds);

/// <summary>Latency of one batched call over many heads (one thread per head-query, all cores).</summary>
public sealed record KvBatchResult(int Heads, int Calls, int SearchBeamWidth, double MeanUsPerCall, double P99UsPerCall,
    double HeadQueriesPerSecond, string Note);

public sealed record KvBenchmarkReport(
    string Dataset,
    IReadOnlyList<string> Heads,
    int Keys,
    int Queries,
    int Threads,
    IReadOnlyList<KvBenchmarkRow> Rows,
    IReadOnlyList<KvAppendResult> Appends,
    IReadOnlyList<KvBatchResult> Batches,
    IReadOnlyList<GraphBuildStats> BuildStats);
