namespace Retrieval.Index.Formats;

/// <summary>The document files a sparse index (Seismic) is built from.</summary>
public enum SparseInputFormat
{
    /// <summary>BigANN sparse CSR (.csr): int64 rows, columns, non-zeros; int64 row offsets; int32 term ids; float32 weights.</summary>
    Csr,
    /// <summary>Seismic JSONL (.jsonl[.gz], .json): {"id", "vector": {token: weight}} per line (see <see cref="SeismicJsonlFile"/>).</summary>
    Jsonl,
    /// <summary>Text (.tsv[.gz], .txt): id TAB text per line, turned into sparse vectors by a text encoder.</summary>
    Text,
}

/// <summary>
/// Names and file-name inference for <see cref="SparseInputFormat"/>, as <see cref="MatrixFileFormats"/> does for dense
/// files: the format comes from an explicit name when the caller has one, else from the extension (.gz stripped).
/// </summary>
public static class SparseInputFormats
{
    /// <summary>The accepted names, for messages.</summary>
    public const string Names = "csr, jsonl or text";

    /// <summary>The format named by <paramref name="name"/> (csr, jsonl or text, as written); false for anything else.</summary>
    public static bool TryParse(string name, out SparseInputFormat format)
    {
        SparseInputFormat? found = name switch
        {
            "csr" => SparseInputFormat.Csr,
            "jsonl" => SparseInputFormat.Jsonl,
            "text" => SparseInputFormat.Text,
            _ => null,
        };
        format = found.GetValueOrDefault();
        return found.HasValue;
    }

    /// <summary>The format a file's extension names (.csr; .jsonl or .json; .tsv or .txt; any of them .gz); false for others.</summary>
    public static bool TryFromPath(string path, out SparseInputFormat format)
    {
        var name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        SparseInputFormat? found = Path.GetExtension(name).ToLowerInvariant() switch
        {
            ".csr" => SparseInputFormat.Csr,
            ".jsonl" or ".json" => SparseInputFormat.Jsonl,
            ".tsv" or ".txt" => SparseInputFormat.Text,
            _ => null,
        };
        format = found.GetValueOrDefault();
        return found.HasValue;
    }

    public static string ToName(this SparseInputFormat format) => format switch
    {
        SparseInputFormat.Csr => "csr",
        SparseInputFormat.Jsonl => "jsonl",
        SparseInputFormat.Text => "text",
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };
}
