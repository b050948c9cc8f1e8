using System.IO.Compression;
using System.Text;
using Retrieval.Bench.Datasets.Sources;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Bench.Datasets;

/// <summary>Writes `id TAB text` lines, gzip-compressed, the layout of passages.tsv.gz and queries.tsv.gz.</summary>
internal static class TsvGzWriter
{
    public static void Write(string path, IReadOnlyList<Passage> rows, IProgress<PrepareProgress>? progress, string stage,
        CancellationToken cancellationToken)
    {
        using var file = new AtomicFile(path);
        using (var gzip = new GZipStream(file.Stream, CompressionLevel.Optimal, leaveOpen: true))
        using (var writer = new StreamWriter(gzip, new UTF8Encoding(false), 1 << 16))
        {
            writer.NewLine = "\n";
            for (int i = 0; i < rows.Count; i++)
            {
                var (id, text) = rows[i];
                if (id.AsSpan().IndexOfAny('\t', '\n', '\r') >= 0 || text.AsSpan().IndexOfAny('\t', '\n', '\r') >= 0)
                    throw new RetrievalException(ErrorKind.Internal, $"row {i} ({id}) holds a tab or line break and cannot be written as TSV");
                writer.Write(id);
                writer.Write('\t');
                writer.WriteLine(text);
                if ((i & 0x3FFF) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    progress?.Report(new PrepareProgress(stage, i, rows.Count, "rows"));
                }
            }
        }
        file.Commit();
        progress?.Report(new PrepareProgress(stage, rows.Count, rows.Count, "rows"));
    }
}
