using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Datasets;

/// <summary>The fields of a parsed manifest, gathered before the immutable <see cref="DatasetManifest"/> is made.</summary>
internal sealed class ManifestFields
{
    public string Name = "";
    public DatasetKind Kind;
    public Metric? Metric;
    public int? Dims;
    public DatasetFileSpec? Base, Queries, GroundTruth, Corpus, Qrels, SparseQueries, QueryPositions;
    public IReadOnlyList<DatasetFileSpec> Sets = [];
    public IReadOnlyList<KvHeadSpec> Heads = [];
    public RowRange? BaseRows, AppendRows;
    public int? HeadDim;
    public long? Positions;
    public double? ScoreScale;
    public string? Source, Licence, Note, Vocab;
    public string Directory = "", ManifestPath = "";
    public IReadOnlyDictionary<string, JsonElement> Extra = new Dictionary<string, JsonElement>();
}

/// <summary>
/// Reads manifest JSON by hand rather than through attribute binding: the shared manifests use one field name
/// for different shapes (kv-minilm's "groundtruth" is prose, dense sets' is a file spec), and every error must
/// name the manifest and the field.
/// </summary>
internal static class ManifestReader
{
    private static readonly JsonDocumentOptions Options = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
    };

    // Top-level fields modelled by DatasetManifest; everything else goes to Extra.
    private static readonly HashSet<string> Known =
    [
        "name", "kind", "metric", "dims", "base", "queries", "groundtruth", "corpus", "qrels", "sparse_queries",
        "sets", "heads", "base_rows", "append_rows", "query_positions", "head_dim", "positions", "score_scale",
        "source", "licence", "note", "vocab",
    ];

    private static readonly HashSet<string> KnownSpecFields = ["file", "format", "dtype", "count", "k", "install"];

    public static DatasetManifest Read(string json, string folder, string manifestPath)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, Options);
        }
        catch (JsonException e)
        {
            throw new DataFormatException(manifestPath,
                $"not valid JSON (line {(e.LineNumber ?? 0) + 1}, column {(e.BytePositionInLine ?? 0) + 1}): {e.Message}",
                kind: ErrorKind.InvalidInput, inner: e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Invalid(manifestPath, "", $"the manifest must be a JSON object, found {root.ValueKind}");
            var ctx = new Context(folder, manifestPath);
            var f = new ManifestFields { Directory = folder, ManifestPath = manifestPath };

            f.Name = ctx.RequiredString(root, "name");
            var kindName = ctx.RequiredString(root, "kind");
            if (!DatasetKindNames.TryParse(kindName, out f.Kind))
                throw Invalid(manifestPath, "kind", $"unknown kind '{kindName}': expected one of {string.Join(", ", DatasetKindNames.All)}");
            var metricName = ctx.OptionalString(root, "metric");
            if (metricName is not null)
            {
                try
                {
                    f.Metric = MetricExtensions.ParseMetric(metricName);
                }
                catch (RetrievalException e)
                {
                    throw Invalid(manifestPath, "metric", e.Message);
                }
            }
            f.Dims = ctx.OptionalPositiveInt(root, "dims");
            f.Source = ctx.OptionalString(root, "source");
            f.Licence = ctx.OptionalString(root, "licence") ?? ctx.OptionalString(root, "license");
            f.Note = ctx.OptionalString(root, "note");
            f.Vocab = ctx.OptionalString(root, "vocab");

            f.Base = ctx.OptionalSpec(root, "base");
            f.Queries = ctx.OptionalSpec(root, "queries");
            f.Corpus = ctx.OptionalSpec(root, "corpus");
            f.Qrels = ctx.OptionalSpec(root, "qrels");
            f.SparseQueries = ctx.OptionalSpec(root, "sparse_queries");
            // kv-minilm describes its per-head ground truth in prose at the top level; only an object is a file spec.
            if (root.TryGetProperty("groundtruth", out var gt) && gt.ValueKind == JsonValueKind.Object)
                f.GroundTruth = ctx.Spec(gt, "groundtruth");
            f.Sets = ctx.SpecArray(root, "sets");
            f.Heads = ReadHeads(ctx, root);
            f.BaseRows = ctx.OptionalRange(root, "base_rows");
            f.AppendRows = ctx.OptionalRange(root, "append_rows");
            f.QueryPositions = ctx.OptionalSpec(root, "query_positions");
            f.HeadDim = ctx.OptionalPositiveInt(root, "head_dim");
            f.Positions = ctx.OptionalCount(root, "positions");
            f.ScoreScale = ctx.OptionalDouble(root, "score_scale");

            var extra = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!Known.Contains(property.Name) || (property.Name == "groundtruth" && f.GroundTruth is null))
                    extra[property.Name] = property.Value.Clone();
            }
            f.Extra = extra;

            RequireForKind(f, manifestPath);
            return new DatasetManifest(f);
        }
    }

    private static List<KvHeadSpec> ReadHeads(Context ctx, JsonElement root)
    {
        var heads = new List<KvHeadSpec>();
        if (!root.TryGetProperty("heads", out var array) || array.ValueKind == JsonValueKind.Null) return heads;
        if (array.ValueKind != JsonValueKind.Array)
            throw Invalid(ctx.ManifestPath, "heads", $"expected an array of heads, found {array.ValueKind}");
        int index = 0;
        foreach (var head in array.EnumerateArray())
        {
            var field = $"heads[{index}]";
            if (head.ValueKind != JsonValueKind.Object)
                throw Invalid(ctx.ManifestPath, field, $"expected an object, found {head.ValueKind}");
            var name = ctx.OptionalString(head, "name", field) ?? $"head{index}";
            heads.Add(new KvHeadSpec(
                name,
                ctx.OptionalInt(head, "layer", field),
                ctx.OptionalInt(head, "head", field),
                ctx.FileName(head, "q", field, required: true)!,
                ctx.FileName(head, "k", field, required: true)!,
                ctx.FileName(head, "v", field, required: true)!,
                ctx.FileName(head, "groundtruth", field, required: false),
                ctx.FileName(head, "groundtruth_kth_score", field, required: false)));
            index++;
        }
        return heads;
    }

    private static void RequireForKind(ManifestFields f, string manifestPath)
    {
        void Need(object? value, string field, string why)
        {
            if (value is null) throw Invalid(manifestPath, field, $"missing: a {f.Kind.ToName()} dataset needs it ({why})");
        }
        switch (f.Kind)
        {
            case DatasetKind.Dense:
                Need(f.Metric, "metric", "the similarity its ground truth uses");
                Need(f.Dims, "dims", "the vector dimension");
                Need(f.Base, "base", "the vectors to search");
                Need(f.Queries, "queries", "the query vectors");
                break;
            case DatasetKind.SparseText:
                Need(f.Base, "base", "the passages");
                Need(f.Queries, "queries", "the query texts");
                break;
            case DatasetKind.Sparse:
                if (f.Base is null && f.Queries is null && f.Sets.Count == 0)
                    throw Invalid(manifestPath, "base", "missing: a sparse dataset needs base/queries files or a sets[] list");
                break;
            case DatasetKind.Beir:
            case DatasetKind.Text:
                Need(f.Corpus, "corpus", "the documents");
                Need(f.Queries, "queries", "the queries");
                Need(f.Qrels, "qrels", "the relevance judgements");
                break;
            case DatasetKind.Kv:
                if (f.Heads.Count == 0) throw Invalid(manifestPath, "heads", "missing: a kv dataset needs at least one head");
                break;
        }
    }

    internal static RetrievalException Invalid(string manifestPath, string field, string problem) =>
        new(ErrorKind.InvalidInput, field.Length == 0 ? $"{manifestPath}: {problem}" : $"{manifestPath}: field '{field}' {problem}");

    private sealed class Context(string folder, string manifestPath)
    {
        public string ManifestPath { get; } = manifestPath;

        private static string Path(string parent, string name) => parent.Length == 0 ? name : $"{parent}.{name}";

        public string RequiredString(JsonElement obj, string name)
        {
            var value = OptionalString(obj, name);
            if (string.IsNullOrWhiteSpace(value)) throw Invalid(ManifestPath, name, "missing or empty: every manifest needs it");
            return value;
        }

        public string? OptionalString(JsonElement obj, string name, string parent = "")
        {
            if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            if (value.ValueKind != JsonValueKind.String)
                throw Invalid(ManifestPath, Path(parent, name), $"expected a string, found {value.ValueKind}: {value.GetRawText()}");
            return value.GetString();
        }

        public int? OptionalInt(JsonElement obj, string name, string parent = "")
        {
            if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var result))
                throw Invalid(ManifestPath, Path(parent, name), $"expected an integer, found {value.GetRawText()}");
            return result;
        }

        public int? OptionalPositiveInt(JsonElement obj, string name, string parent = "")
        {
            var value = OptionalInt(obj, name, parent);
            if (value is <= 0) throw Invalid(ManifestPath, Path(parent, name), $"must be >= 1, found {value}");
            return value;
        }

        public long? OptionalCount(JsonElement obj, string name, string parent = "")
        {
            if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var result) || result < 0)
                throw Invalid(ManifestPath, Path(parent, name), $"expected a non-negative integer, found {value.GetRawText()}");
            return result;
        }

        public double? OptionalDouble(JsonElement obj, string name)
        {
            if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var result) || !double.IsFinite(result))
                throw Invalid(ManifestPath, name, $"expected a finite number, found {value.GetRawText()}");
            return result;
        }

        public RowRange? OptionalRange(JsonElement obj, string name)
        {
            if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != 2)
                throw Invalid(ManifestPath, name, $"expected [start, end], found {value.GetRawText()}");
            var start = value[0].TryGetInt64(out var s) ? s : -1;
            var end = value[1].TryGetInt64(out var e) ? e : -1;
            if (start < 0 || end < start)
                throw Invalid(ManifestPath, name, $"expected [start, end] with 0 <= start <= end, found {value.GetRawText()}");
            return new RowRange(start, end);
        }

        public DatasetFileSpec? OptionalSpec(JsonElement obj, string name)
        {
            if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            return value.ValueKind switch
            {
                JsonValueKind.Object => Spec(value, name),
                // A bare string is accepted as {"file": "..."}.
                JsonValueKind.String => MakeSpec(name, value.GetString()!, null, null, null, null, null, new Dictionary<string, JsonElement>()),
                _ => throw Invalid(ManifestPath, name, $"expected a file spec object {{\"file\": ...}}, found {value.ValueKind}"),
            };
        }

        public List<DatasetFileSpec> SpecArray(JsonElement obj, string name)
        {
            var specs = new List<DatasetFileSpec>();
            if (!obj.TryGetProperty(name, out var array) || array.ValueKind == JsonValueKind.Null) return specs;
            if (array.ValueKind != JsonValueKind.Array)
                throw Invalid(ManifestPath, name, $"expected an array of file specs, found {array.ValueKind}");
            int index = 0;
            foreach (var item in array.EnumerateArray())
            {
                var field = $"{name}[{index++}]";
                if (item.ValueKind != JsonValueKind.Object)
                    throw Invalid(ManifestPath, field, $"expected a file spec object, found {item.ValueKind}");
                specs.Add(Spec(item, field));
            }
            return specs;
        }

        public DatasetFileSpec Spec(JsonElement obj, string field)
        {
            var file = OptionalString(obj, "file", field);
            if (string.IsNullOrWhiteSpace(file)) throw Invalid(ManifestPath, $"{field}.file", "missing or empty: a file spec needs the file's path");
            long? count = OptionalCount(obj, "count", field);
            int? k = OptionalPositiveInt(obj, "k", field);
            var extra = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var property in obj.EnumerateObject())
            {
                if (!KnownSpecFields.Contains(property.Name)) extra[property.Name] = property.Value.Clone();
            }
            return MakeSpec(field, file, OptionalString(obj, "format", field), OptionalString(obj, "dtype", field),
                count, k, OptionalString(obj, "install", field), extra);
        }

        /// <summary>A head's "q": "L0H11.q.npy" style entry: a file name with no further fields.</summary>
        public DatasetFileSpec? FileName(JsonElement obj, string name, string parent, bool required)
        {
            var field = Path(parent, name);
            if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                if (required) throw Invalid(ManifestPath, field, "missing: every head needs its q, k and v files");
                return null;
            }
            if (value.ValueKind == JsonValueKind.Object) return Spec(value, field);
            if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
                throw Invalid(ManifestPath, field, $"expected a file name, found {value.GetRawText()}");
            var file = value.GetString()!;
            return MakeSpec(field, file, FormatFromExtension(file), null, null, null, null, new Dictionary<string, JsonElement>());
        }

        private DatasetFileSpec MakeSpec(string field, string file, string? format, string? dtype, long? count, int? k,
            string? install, IReadOnlyDictionary<string, JsonElement> extra)
        {
            var resolved = System.IO.Path.IsPathRooted(file) ? file : System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, file));
            return new DatasetFileSpec(field, file, resolved, format, dtype, count, k, install, extra);
        }
    }

    private static string? FormatFromExtension(string file)
    {
        var ext = System.IO.Path.GetExtension(file).TrimStart('.').ToLowerInvariant();
        return ext.Length == 0 ? null : ext;
    }
}
