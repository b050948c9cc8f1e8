using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Benchmarks.Kv;

/// <summary>One head of a kv dataset, decoded to float32 (rows = token positions).</summary>
public sealed class KvHeadData
{
    public required string Name { get; init; }
    public required int Positions { get; init; }
    public required int Dimension { get; init; }
    public required float[] Queries { get; init; }
    public required float[] Keys { get; init; }
    public required float[] Values { get; init; }
    /// <summary>Exact top-GroundTruthColumns base rows per decode query (row-major), or null.</summary>
    public int[]? GroundTruth { get; init; }
    public int GroundTruthColumns { get; init; }

    public ReadOnlySpan<float> Query(int position) => Queries.AsSpan(position * Dimension, Dimension);
}

/// <summary>
/// A folder laid out like ../shared/datasets/kv-minilm: manifest.json (head_dim, base_rows, append_rows,
/// query_positions, heads[] with q/k/v/groundtruth file names) and float16 .npy files per head.
/// </summary>
public sealed class KvDataset
{
    public required string Directory { get; init; }
    public required string Name { get; init; }
    public required int HeadDimension { get; init; }
    /// <summary>Rows [0, BaseRows) are the cache: searchable keys, and their queries are the prefill.</summary>
    public required int BaseRows { get; init; }
    /// <summary>Rows [BaseRows, AppendEnd) are what a decoder appends, in order.</summary>
    public required int AppendEnd { get; init; }
    public required float ScoreScale { get; init; }
    /// <summary>Positions of the decode queries (all >= BaseRows).</summary>
    public required int[] QueryPositions { get; init; }
    public required IReadOnlyList<KvHeadEntry> Heads { get; init; }

    public sealed record KvHeadEntry(string Name, string Q, string K, string V, string? GroundTruth);

    /// <summary>Reads the manifest; <paramref name="nameOrPath"/> is a folder or a name under the shared datasets root.</summary>
    public static KvDataset Open(string nameOrPath)
    {
        string dir = Resolve(nameOrPath);
        string manifestPath = Path.Combine(dir, "manifest.json");
        if (!File.Exists(manifestPath))
            throw new RetrievalException(ErrorKind.NotFound, $"{dir} has no manifest.json (expected a folder laid out like kv-minilm)");
        using var doc = JsonDocument.Parse(File.ReadAllText(manifestPath));
        var root = doc.RootElement;
        try
        {
            int d = root.GetProperty("head_dim").GetInt32();
            var baseRows = root.GetProperty("base_rows");
            var appendRows = root.GetProperty("append_rows");
            if (baseRows[0].GetInt32() != 0)
                throw new DataFormatException(manifestPath, "base_rows must start at 0", kind: ErrorKind.Incompatible);
            var heads = new List<KvHeadEntry>();
            foreach (var h in root.GetProperty("heads").EnumerateArray())
            {
                heads.Add(new KvHeadEntry(h.GetProperty("name").GetString()!, h.GetProperty("q").GetString()!,
                    h.GetProperty("k").GetString()!, h.GetProperty("v").GetString()!,
                    h.TryGetProperty("groundtruth", out var gt) ? gt.GetString() : null));
            }
            if (heads.Count == 0) throw new DataFormatException(manifestPath, "manifest lists no heads");
            var positionsFile = root.GetProperty("query_positions").GetProperty("file").GetString()!;
            var positions = IntMatrixFile.Read(Path.Combine(dir, positionsFile)).Data;
            float scale = root.TryGetProperty("score_scale", out var s) ? (float)s.GetDouble() : 1f / MathF.Sqrt(d);
            return new KvDataset
            {
                Directory = dir,
                Name = root.TryGetProperty("name", out var n) ? n.GetString() ?? Path.GetFileName(dir) : Path.GetFileName(dir),
                HeadDimension = d,
                BaseRows = baseRows[1].GetInt32(),
                AppendEnd = appendRows[1].GetInt32(),
                ScoreScale = scale,
                QueryPositions = positions,
                Heads = heads,
            };
        }
        catch (KeyNotFoundException e)
        {
            throw new DataFormatException(manifestPath, $"manifest is missing a field: {e.Message}", inner: e);
        }
        catch (InvalidOperationException e)
        {
            throw new DataFormatException(manifestPath, $"manifest field has the wrong type: {e.Message}", inner: e);
        }
    }

    /// <summary>Loads one head's q, k, v (rows [0, maxRows) if given) and ground truth.</summary>
    public KvHeadData LoadHead(int headIndex, int? maxRows = null)
    {
        var entry = Heads[headIndex];
        var q = ReadFloat(entry.Q, maxRows);
        var k = ReadFloat(entry.K, maxRows);
        var v = ReadFloat(entry.V, maxRows);
        if (q.Dimension != HeadDimension || k.Dimension != HeadDimension || v.Dimension != HeadDimension)
            throw new DataFormatException(Path.Combine(Directory, entry.K), $"head dimension {k.Dimension}, manifest says {HeadDimension}", kind: ErrorKind.Incompatible);
        if (q.Count != k.Count || v.Count != k.Count)
            throw new DataFormatException(Path.Combine(Directory, entry.Q), $"q/k/v row counts differ: {q.Count}/{k.Count}/{v.Count}");
        IntMatrix? gt = entry.GroundTruth is null ? null : IntMatrixFile.Read(Path.Combine(Directory, entry.GroundTruth));
        return new KvHeadData
        {
            Name = entry.Name,
            Positions = k.Count,
            Dimension = HeadDimension,
            Queries = ToArray(q),
            Keys = ToArray(k),
            Values = ToArray(v),
            GroundTruth = gt?.Data,
            GroundTruthColumns = gt?.Columns ?? 0,
        };
    }

    private DenseVectors ReadFloat(string file, int? maxRows) =>
        DenseVectorFile.Read(Path.Combine(Directory, file), maxRows is null ? null : new DenseReadOptions { MaxRows = maxRows.Value });

    private static float[] ToArray(DenseVectors vectors)
    {
        var f = vectors.ToFloat32();
        var result = new float[(long)f.Count * f.Dimension];
        f.RawData.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    private static string Resolve(string nameOrPath)
    {
        if (System.IO.Directory.Exists(nameOrPath)) return Path.GetFullPath(nameOrPath);
        var candidates = new List<string>();
        var env = Environment.GetEnvironmentVariable("RETRIEVAL_DATASETS");
        if (!string.IsNullOrEmpty(env)) candidates.Add(Path.Combine(env, nameOrPath));
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            candidates.Add(Path.Combine(dir.FullName, "..", "shared", "datasets", nameOrPath));
        for (var dir = new DirectoryInfo(System.IO.Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            candidates.Add(Path.Combine(dir.FullName, "..", "shared", "datasets", nameOrPath));
        foreach (var c in candidates)
        {
            if (System.IO.Directory.Exists(c)) return Path.GetFullPath(c);
        }
        throw new RetrievalException(ErrorKind.NotFound,
            $"dataset '{nameOrPath}' not found: not a folder, and not under $RETRIEVAL_DATASETS or ../shared/datasets");
    }
}
