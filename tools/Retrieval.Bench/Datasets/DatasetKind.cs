using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets;

/// <summary>What a dataset folder holds; the manifest's "kind" field.</summary>
public enum DatasetKind
{
    /// <summary>Dense base and query vectors, usually with exact ground truth ("dense").</summary>
    Dense,
    /// <summary>Text passages and text queries that become sparse vectors at index time ("sparse-text").</summary>
    SparseText,
    /// <summary>Learned-sparse vectors (Seismic JSONL, Anserini pre-tokenized topics) ("sparse").</summary>
    Sparse,
    /// <summary>Attention query/key/value vectors of model heads ("kv").</summary>
    Kv,
    /// <summary>A BEIR folder: corpus.jsonl(.gz), queries.jsonl, qrels ("beir").</summary>
    Beir,
    /// <summary>A classic text collection with judgements in its own format ("text").</summary>
    Text,
}

public static class DatasetKindNames
{
    /// <summary>The manifest spelling of every kind, in enum order.</summary>
    public static readonly string[] All = ["dense", "sparse-text", "sparse", "kv", "beir", "text"];

    public static string ToName(this DatasetKind kind) => All[(int)kind];

    public static bool TryParse(string? name, out DatasetKind kind)
    {
        var index = Array.IndexOf(All, name?.Trim().ToLowerInvariant());
        kind = index < 0 ? default : (DatasetKind)index;
        return index >= 0;
    }

    public static DatasetKind Parse(string name) =>
        TryParse(name, out var kind)
            ? kind
            : Guard.ThrowInvalid<DatasetKind>($"unknown dataset kind '{name}': expected one of {string.Join(", ", All)}");
}
