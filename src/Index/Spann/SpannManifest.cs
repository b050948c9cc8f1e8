using System.Text;
using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>One file of the index as the manifest records it.</summary>
/// <param name="Checksum">The file's CRC-32C (format 3 on); in format versions 1 and 2, the legacy 64-bit payload checksum.</param>
public sealed record SpannFileEntry(string Name, long Bytes, ulong Checksum);

/// <summary>
/// manifest.json of a SPANN index: format name and version, parameters, counts and every file's length and
/// checksum. Written last (atomically), so a directory with a manifest holds a complete index.
/// </summary>
public sealed record SpannManifest
{
    public required int Version { get; init; }
    public required Metric Metric { get; init; }
    public required int Dimension { get; init; }
    public required int VectorCount { get; init; }
    public required ElementType SourceElement { get; init; }
    public required ElementType HeadElement { get; init; }
    public required SpannStorage Storage { get; init; }
    public required int HeadCount { get; init; }
    public required long SkippedRows { get; init; }
    public required bool Rerank { get; init; }
    public required SpannBuildOptions Options { get; init; }
    public required PostingAssignmentStats Stats { get; init; }
    public required IReadOnlyList<SpannFileEntry> Files { get; init; }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", SpannFormat.Name);
            w.WriteNumber("version", Version);
            w.WriteString("metric", Metric.ToName());
            w.WriteNumber("dimension", Dimension);
            w.WriteNumber("vector_count", VectorCount);
            w.WriteString("source_element", SourceElement.ToString());
            w.WriteString("head_element", HeadElement.ToString());
            w.WriteString("storage", Storage.ToName());
            w.WriteNumber("head_count", HeadCount);
            w.WriteNumber("skipped_rows", SkippedRows);
            w.WriteBoolean("rerank_from_full_precision", Rerank);
            w.WriteStartObject("parameters");
            w.WriteNumber("head_ratio", Options.HeadRatio);
            w.WriteNumber("replica_count", Options.ReplicaCount);
            w.WriteNumber("closure_epsilon", Options.ClosureEpsilon);
            w.WriteNumber("rng_factor", Options.RngFactor);
            w.WriteNumber("posting_pages", Options.PostingPages);
            w.WriteNumber("sample_size", Options.SampleSize);
            w.WriteNumber("head_candidates", Options.HeadCandidates);
            w.WriteNumber("graph_degree", Options.GraphDegree);
            w.WriteNumber("graph_build_candidates", Options.GraphBuildCandidates);
            w.WriteNumber("graph_alpha", Options.GraphAlpha);
            w.WriteNumber("kmeans_iterations", Options.KMeansIterations);
            w.WriteNumber("balance_penalty", Options.BalancePenalty);
            w.WriteBoolean("skip_non_finite", Options.SkipNonFinite);
            w.WriteNumber("seed", Options.Seed);
            w.WriteEndObject();
            w.WriteStartObject("postings");
            w.WriteNumber("cap", Stats.PostingCap);
            w.WriteNumber("min_length", Stats.MinPostingLength);
            w.WriteNumber("mean_length", Stats.MeanPostingLength);
            w.WriteNumber("p50_length", Stats.P50PostingLength);
            w.WriteNumber("p99_length", Stats.P99PostingLength);
            w.WriteNumber("max_length", Stats.MaxPostingLength);
            w.WriteNumber("mean_replicas", Stats.MeanReplicas);
            w.WriteStartArray("replica_histogram");
            foreach (var c in Stats.ReplicaHistogram) w.WriteNumberValue(c);
            w.WriteEndArray();
            w.WriteNumber("replicas_dropped_by_cap", Stats.ReplicasDroppedByCap);
            w.WriteNumber("vectors_moved_by_cap", Stats.VectorsMovedByCap);
            w.WriteNumber("vectors_in_no_posting", Stats.VectorsInNoPosting);
            w.WriteEndObject();
            w.WriteStartObject("files");
            foreach (var f in Files)
            {
                w.WriteStartObject(f.Name);
                w.WriteNumber("bytes", f.Bytes);
                w.WriteString("checksum", f.Checksum.ToString(Version > SpannFormat.LastLegacyVersion ? "x8" : "x16"));
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Parses a manifest; errors name the file and the field.</summary>
    public static SpannManifest Parse(string path, string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            string format = Str(root, "format", path);
            if (format != SpannFormat.Name)
                throw new DataFormatException(path, $"format is '{format}', not '{SpannFormat.Name}'", kind: ErrorKind.Incompatible);
            int version = Int(root, "version", path);
            if (version < SpannFormat.OldestReadableVersion || version > SpannFormat.CurrentVersion)
                throw new DataFormatException(path,
                    $"SPANN format version {version} is not readable by this build (reads {SpannFormat.OldestReadableVersion}..{SpannFormat.CurrentVersion}); rebuild the index",
                    kind: ErrorKind.Incompatible);
            var p = Obj(root, "parameters", path);
            var options = new SpannBuildOptions
            {
                Metric = MetricExtensions.ParseMetric(Str(root, "metric", path)),
                HeadRatio = Dbl(p, "head_ratio", path),
                ReplicaCount = Int(p, "replica_count", path),
                ClosureEpsilon = Dbl(p, "closure_epsilon", path),
                RngFactor = Dbl(p, "rng_factor", path),
                PostingPages = Int(p, "posting_pages", path),
                SampleSize = Int(p, "sample_size", path),
                HeadCandidates = Int(p, "head_candidates", path),
                GraphDegree = Int(p, "graph_degree", path),
                GraphBuildCandidates = Int(p, "graph_build_candidates", path),
                GraphAlpha = Dbl(p, "graph_alpha", path),
                KMeansIterations = Int(p, "kmeans_iterations", path),
                BalancePenalty = Dbl(p, "balance_penalty", path),
                SkipNonFinite = p.TryGetProperty("skip_non_finite", out var s) && s.ValueKind == JsonValueKind.True,
                Seed = Int(p, "seed", path),
            };
            var post = Obj(root, "postings", path);
            var histogram = new List<long>();
            if (post.TryGetProperty("replica_histogram", out var h) && h.ValueKind == JsonValueKind.Array)
                foreach (var e in h.EnumerateArray()) histogram.Add(e.GetInt64());
            var stats = new PostingAssignmentStats(histogram.ToArray(), Dbl(post, "mean_replicas", path),
                Int(post, "min_length", path), Dbl(post, "mean_length", path), Int(post, "p50_length", path),
                Int(post, "p99_length", path), Int(post, "max_length", path), Int(post, "cap", path),
                Lng(post, "replicas_dropped_by_cap", path), Lng(post, "vectors_moved_by_cap", path), Lng(post, "vectors_in_no_posting", path));
            var files = new List<SpannFileEntry>();
            foreach (var f in Obj(root, "files", path).EnumerateObject())
            {
                var checksum = Str(f.Value, "checksum", path);
                if (!ulong.TryParse(checksum, System.Globalization.NumberStyles.HexNumber, null, out var sum))
                    throw new DataFormatException(path, $"files.{f.Name}.checksum '{checksum}' is not a 64-bit hex number");
                files.Add(new SpannFileEntry(f.Name, Lng(f.Value, "bytes", path), sum));
            }
            return new SpannManifest
            {
                Version = version,
                Metric = options.Metric,
                Dimension = Int(root, "dimension", path),
                VectorCount = Int(root, "vector_count", path),
                SourceElement = Enum.Parse<ElementType>(Str(root, "source_element", path)),
                HeadElement = Enum.Parse<ElementType>(Str(root, "head_element", path)),
                Storage = SpannStorageExtensions.ParseStorage(Str(root, "storage", path)),
                HeadCount = Int(root, "head_count", path),
                SkippedRows = Lng(root, "skipped_rows", path),
                Rerank = root.TryGetProperty("rerank_from_full_precision", out var r) && r.ValueKind == JsonValueKind.True,
                Options = options,
                Stats = stats,
                Files = files,
            };
        }
        catch (JsonException e)
        {
            throw new DataFormatException(path, $"not valid JSON: {e.Message}", inner: e);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
        {
            throw new DataFormatException(path, $"malformed manifest: {e.Message}", inner: e);
        }
    }

    private static JsonElement Field(JsonElement e, string name, string path) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v)
            ? v
            : throw new DataFormatException(path, $"required field \"{name}\" is missing");

    private static JsonElement Obj(JsonElement e, string name, string path)
    {
        var v = Field(e, name, path);
        return v.ValueKind == JsonValueKind.Object ? v : throw new DataFormatException(path, $"field \"{name}\" must be an object");
    }

    private static string Str(JsonElement e, string name, string path)
    {
        var v = Field(e, name, path);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new DataFormatException(path, $"field \"{name}\" must be a string");
    }

    private static int Int(JsonElement e, string name, string path) =>
        Field(e, name, path).TryGetInt32(out var v) ? v : throw new DataFormatException(path, $"field \"{name}\" must be a 32-bit integer");

    private static long Lng(JsonElement e, string name, string path) =>
        Field(e, name, path).TryGetInt64(out var v) ? v : throw new DataFormatException(path, $"field \"{name}\" must be an integer");

    private static double Dbl(JsonElement e, string name, string path) =>
        Field(e, name, path).TryGetDouble(out var v) ? v : throw new DataFormatException(path, $"field \"{name}\" must be a number");
}
