using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Inputs;

/// <summary>
/// Reads a base or query file of either kind, choosing the reader from the name: BigANN sparse CSR (.csr),
/// Seismic JSONL (.jsonl[.gz]) and Anserini pre-tokenized topics (.tsv[.gz], .anserini) are sparse, with
/// token strings mapped through the bert-base-uncased vocabulary; everything else goes to the dense reader,
/// which knows .fvecs .bvecs .fbin .u8bin .i8bin .npy and IDX and names the file when it knows none of them.
/// </summary>
public static class VectorFiles
{
    /// <summary>Which sparse reader a name calls for, or null for dense. <paramref name="format"/> is a manifest's format field, when there is one.</summary>
    public static SparseFileKind? SparseKindOf(string path, string? format = null)
    {
        switch (format?.ToLowerInvariant())
        {
            case "csr": return SparseFileKind.Csr;
            case "jsonl" or "seismic-jsonl": return SparseFileKind.SeismicJsonl;
            case "anserini-pretokenized": return SparseFileKind.AnseriniTopics;
        }
        var name = Path.GetFileName(path).ToLowerInvariant();
        if (name.EndsWith(".gz", StringComparison.Ordinal)) name = name[..^3];
        return Path.GetExtension(name) switch
        {
            ".csr" => SparseFileKind.Csr,
            ".jsonl" => SparseFileKind.SeismicJsonl,
            ".tsv" or ".anserini" => SparseFileKind.AnseriniTopics,
            _ => null,
        };
    }

    /// <summary>Reads queries (dense ones decoded to float32 once), the first <paramref name="maxRows"/> when given.</summary>
    public static QuerySet ReadQueries(string path, string? format = null, int? maxRows = null) =>
        SparseKindOf(path, format) is { } kind
            ? QuerySet.FromSparse(ReadSparse(path, kind, maxRows))
            : QuerySet.FromDense(DenseVectorFile.Read(path, new DenseReadOptions { MaxRows = maxRows }));

    public static SparseMatrix ReadSparse(string path, SparseFileKind kind, int? maxRows = null)
    {
        var options = new SparseReadOptions { MaxRows = maxRows };
        return kind switch
        {
            SparseFileKind.Csr => TakeRows(SparseCsrFile.Read(path, options), maxRows),
            SparseFileKind.SeismicJsonl => SeismicJsonlFile.Read(path, BertVocabulary.BertBaseUncased, options).Vectors,
            SparseFileKind.AnseriniTopics => AnseriniTopicsFile.Read(path, BertVocabulary.BertBaseUncased, options).Vectors,
            _ => throw new RetrievalException(ErrorKind.Internal, $"unknown sparse file kind {kind}"),
        };
    }

    private static SparseMatrix TakeRows(SparseMatrix matrix, int? maxRows) =>
        maxRows is { } limit && limit < matrix.RowCount ? QuerySet.FromSparse(matrix).Take(limit).Sparse! : matrix;
}

public enum SparseFileKind
{
    Csr,
    SeismicJsonl,
    AnseriniTopics,
}
