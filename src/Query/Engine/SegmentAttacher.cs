using System.Globalization;
using System.Text;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Query.Engine;

/// <summary>A segment directory made from attached indexes, ready to be logged.</summary>
internal sealed record PreparedAttach(int Rows, RecordKey[] Keys, int Sequence);

/// <summary>
/// The file side of an attach: checks batch-built SPANN/Seismic indexes against a collection's schema, makes each
/// row's key and record (ids and payloads from the request's files), and copies everything into a new segment
/// directory. Logging the attach, after which the rows are live, is the engine's part.
/// </summary>
internal sealed class SegmentAttacher(EngineOptions options, RecordPreparer preparer, string segmentsRoot)
{
    /// <summary>Validates the request and writes the segment directory; throws InvalidInput / NotFound / Corrupt naming the file.</summary>
    public PreparedAttach Prepare(Collection target, AttachRequest request)
    {
        var schema = target.Schema;
        if (schema.Dense is not null && string.IsNullOrEmpty(request.DenseIndexDirectory))
            Guard.ThrowInvalid($"collection '{schema.Name}' has a dense field: attach needs a SPANN index directory (dense index)");
        if (schema.Dense is null && !string.IsNullOrEmpty(request.DenseIndexDirectory))
            Guard.ThrowInvalid($"a dense index was given, but collection '{schema.Name}' has no dense field");
        if (schema.Sparse is not null && string.IsNullOrEmpty(request.SparseIndexDirectory))
            Guard.ThrowInvalid($"collection '{schema.Name}' has a sparse field: attach needs a Seismic index directory (sparse index)");
        if (schema.Sparse is null && !string.IsNullOrEmpty(request.SparseIndexDirectory))
            Guard.ThrowInvalid($"a sparse index was given, but collection '{schema.Name}' has no sparse field");

        int rows = -1;
        string[]? documentIds = null;
        if (schema.Dense is not null)
        {
            using var index = SegmentIndexFactory.OpenSpann(Path.GetFullPath(request.DenseIndexDirectory!), schema.Dense, null);
            rows = index.Count;
        }
        if (schema.Sparse is not null)
        {
            using var index = SegmentIndexFactory.OpenSeismic(Path.GetFullPath(request.SparseIndexDirectory!), schema.Sparse, null);
            if (rows >= 0 && index.Count != rows)
                Guard.ThrowInvalid($"the SPANN index has {rows} rows but the Seismic index has {index.Count}; attached indexes must describe the same rows");
            rows = index.Count;
            documentIds = index.Index.DocumentIds;
        }
        if (rows == 0) Guard.ThrowInvalid("the index to attach has no rows");
        var keys = Keys(request, schema, rows, documentIds);
        var payloads = Payloads(request, schema, rows);
        var records = new byte[rows][];
        var hashes = new ulong[rows];
        for (int r = 0; r < rows; r++)
        {
            records[r] = RecordCodec.Encode(new RecordData(keys[r], null, null, 0, payloads?[r]), options.CompressPayloadBytes);
            hashes[r] = ContentHash64.Of(records[r]);
        }

        int sequence = target.Sequences.Allocate();
        var directory = SegmentFiles.SegmentDirectory(segmentsRoot, target.Id, sequence);
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            Directory.CreateDirectory(directory);
            if (schema.Dense is not null) CopyDirectory(request.DenseIndexDirectory!, Path.Combine(directory, SegmentIndexFactory.DenseDirectory));
            if (schema.Sparse is not null) CopyDirectory(request.SparseIndexDirectory!, Path.Combine(directory, SegmentIndexFactory.SparseDirectory));
            SegmentFiles.WriteRecords(directory, records);
            SegmentFiles.WriteRows(directory, keys, hashes);
            SegmentFiles.WriteManifest(directory, new SegmentManifest(SegmentManifest.FormatName, SegmentManifest.CurrentVersion, rows, true,
                schema.Dense is null ? null : "spann", schema.Sparse is null ? null : "seismic"));
        }
        catch
        {
            SegmentFiles.TryDeleteDirectory(directory);
            throw;
        }
        return new PreparedAttach(rows, keys, sequence);
    }

    private static RecordKey[] Keys(AttachRequest request, CollectionSchema schema, int rows, string[]? documentIds)
    {
        string[]? texts = null;
        string source = "row number";
        if (!string.IsNullOrEmpty(request.IdsPath))
        {
            texts = ReadLines(request.IdsPath, "ids file");
            source = request.IdsPath;
            if (texts.Length != rows) Guard.ThrowInvalid($"ids file {request.IdsPath} has {texts.Length} lines, the index has {rows} rows");
        }
        else if (documentIds is not null)
        {
            texts = documentIds;
            source = "the Seismic index's document ids";
        }
        var keys = new RecordKey[rows];
        var seen = new HashSet<RecordKey>();
        for (int r = 0; r < rows; r++)
        {
            if (texts is null) keys[r] = schema.Key == KeyKind.Integer ? RecordKey.Of(r) : RecordKey.Of(r.ToString(CultureInfo.InvariantCulture));
            else if (schema.Key == KeyKind.Integer)
            {
                if (!long.TryParse(texts[r], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long id))
                    Guard.ThrowInvalid($"{source}: row {r} id '{texts[r]}' is not an integer, and collection '{schema.Name}' uses integer keys");
                keys[r] = RecordKey.Of(id);
            }
            else
            {
                try { keys[r] = RecordKey.Of(texts[r]); }
                catch (RetrievalException e) { Guard.ThrowInvalid($"{source}: row {r}: {e.Message}"); }
            }
            if (!seen.Add(keys[r])) Guard.ThrowInvalid($"{source}: row {r} repeats id '{keys[r]}'");
        }
        return keys;
    }

    private byte[]?[]? Payloads(AttachRequest request, CollectionSchema schema, int rows)
    {
        if (string.IsNullOrEmpty(request.PayloadsPath)) return null;
        var lines = ReadLines(request.PayloadsPath, "payloads file");
        if (lines.Length != rows) Guard.ThrowInvalid($"payloads file {request.PayloadsPath} has {lines.Length} lines, the index has {rows} rows");
        var payloads = new byte[]?[rows];
        for (int r = 0; r < rows; r++)
        {
            if (lines[r].Length == 0) continue;
            var bytes = Encoding.UTF8.GetBytes(lines[r]);
            preparer.CheckPayload(bytes, schema, $"payloads file {request.PayloadsPath} line {r + 1}");
            payloads[r] = bytes;
        }
        return payloads;
    }

    private static string[] ReadLines(string path, string what)
    {
        if (!File.Exists(path)) throw new RetrievalException(ErrorKind.NotFound, $"{what} {path} does not exist");
        var lines = File.ReadAllLines(path, Encoding.UTF8);
        int n = lines.Length;
        while (n > 0 && lines[n - 1].Length == 0) n--; // a trailing newline is not a row
        return n == lines.Length ? lines : lines[..n];
    }

    /// <summary>Copies an index directory (flat: index outputs have no subdirectories) and flushes every file to disk.</summary>
    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source))
        {
            var target = Path.Combine(destination, Path.GetFileName(file));
            File.Copy(file, target, overwrite: true);
            using var stream = new FileStream(target, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            stream.Flush(flushToDisk: true);
        }
    }
}
