using System.Text.Json;

namespace Retrieval.Bench.Datasets;

/// <summary>
/// One file a manifest points at ({"file", "format", "dtype", "count", "k", ...}), with its path resolved
/// against the manifest's folder (absolute paths, as fashion-mnist's IDX files, are kept as written).
/// Fields this type does not model stay in <see cref="Extra"/>.
/// </summary>
public sealed class DatasetFileSpec
{
    internal DatasetFileSpec(string field, string file, string path, string? format, string? dtype, long? count,
        int? k, string? install, IReadOnlyDictionary<string, JsonElement> extra)
    {
        Field = field;
        File = file;
        Path = path;
        Format = format;
        DType = dtype;
        Count = count;
        K = k;
        Install = install;
        Extra = extra;
    }

    /// <summary>Where in the manifest this spec sits: "base", "groundtruth", "sets[1]", "heads[0].k".</summary>
    public string Field { get; }
    /// <summary>The path as written in the manifest.</summary>
    public string File { get; }
    /// <summary>The absolute path.</summary>
    public string Path { get; }
    /// <summary>"npy", "ivecs", "u8bin", "tsv", "idx-ubyte-gz", "anserini-pretokenized", ...; null when not given.</summary>
    public string? Format { get; }
    /// <summary>Element type name ("float16", "uint8", "int32") when given.</summary>
    public string? DType { get; }
    /// <summary>Number of rows (vectors, passages, queries, judgements) when given.</summary>
    public long? Count { get; }
    /// <summary>Neighbours per ground-truth row when given.</summary>
    public int? K { get; }
    /// <summary>A command that provides the file when it is missing (fashion-mnist: an apt-get line).</summary>
    public string? Install { get; }
    /// <summary>Every other field of the spec ("texts", "encoder", "id_prefixes", "computed_on", ...).</summary>
    public IReadOnlyDictionary<string, JsonElement> Extra { get; }

    public bool Exists => System.IO.File.Exists(Path) || Directory.Exists(Path);

    /// <summary>A string-valued extra field ("encoder", "texts", "what"), or null.</summary>
    public string? ExtraString(string name) =>
        Extra.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public override string ToString() => $"{Field}: {Path}";
}

/// <summary>A half-open row range [Start, End) (kv-minilm's base_rows and append_rows).</summary>
public readonly record struct RowRange(long Start, long End)
{
    public long Count => End - Start;
}

/// <summary>One attention head of a kv dataset: its q, k, v matrices and optional exact ground truth.</summary>
public sealed record KvHeadSpec(
    string Name,
    int? Layer,
    int? Head,
    DatasetFileSpec Queries,
    DatasetFileSpec Keys,
    DatasetFileSpec Values,
    DatasetFileSpec? GroundTruth,
    DatasetFileSpec? GroundTruthKthScore);
