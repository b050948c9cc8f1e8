using System.Text;
using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Datasets;

/// <summary>
/// A dataset folder's manifest.json in the layout of ../shared/datasets (see its README): name, kind, metric,
/// dims and file specs (base, queries, groundtruth; corpus, qrels, sparse_queries for text sets; sets[] for
/// query-only sparse sets; heads[], base_rows, append_rows, query_positions for kv sets). Reading is tolerant:
/// fields this type does not model are kept in <see cref="Extra"/> (and in each spec's Extra), comments and
/// trailing commas are allowed. Required fields depend on the kind and are checked on load; so are the files,
/// unless the caller asks only for the description.
/// </summary>
public sealed class DatasetManifest
{
    public const string FileName = "manifest.json";

    internal DatasetManifest(ManifestFields f)
    {
        Name = f.Name;
        Kind = f.Kind;
        Metric = f.Metric;
        Dims = f.Dims;
        Base = f.Base;
        Queries = f.Queries;
        GroundTruth = f.GroundTruth;
        Corpus = f.Corpus;
        Qrels = f.Qrels;
        SparseQueries = f.SparseQueries;
        Sets = f.Sets;
        Heads = f.Heads;
        BaseRows = f.BaseRows;
        AppendRows = f.AppendRows;
        QueryPositions = f.QueryPositions;
        HeadDim = f.HeadDim;
        Positions = f.Positions;
        ScoreScale = f.ScoreScale;
        Source = f.Source;
        Licence = f.Licence;
        Note = f.Note;
        Vocab = f.Vocab;
        Directory = f.Directory;
        ManifestPath = f.ManifestPath;
        Extra = f.Extra;
    }

    public string Name { get; }
    public DatasetKind Kind { get; }
    /// <summary>Similarity the ground truth was computed with; null where the set has none (text, beir).</summary>
    public Metric? Metric { get; }
    /// <summary>Vector dimension of dense sets.</summary>
    public int? Dims { get; }
    public DatasetFileSpec? Base { get; }
    public DatasetFileSpec? Queries { get; }
    public DatasetFileSpec? GroundTruth { get; }
    /// <summary>Documents of beir/text sets.</summary>
    public DatasetFileSpec? Corpus { get; }
    public DatasetFileSpec? Qrels { get; }
    /// <summary>Learned-sparse encodings of the queries (scifact's SPLADE++ queries).</summary>
    public DatasetFileSpec? SparseQueries { get; }
    /// <summary>Several encodings of one query set (splade-queries).</summary>
    public IReadOnlyList<DatasetFileSpec> Sets { get; }
    /// <summary>Attention heads of a kv set.</summary>
    public IReadOnlyList<KvHeadSpec> Heads { get; }
    /// <summary>kv: rows whose keys/values form the searchable cache.</summary>
    public RowRange? BaseRows { get; }
    /// <summary>kv: rows a decoder appends after the cache, in order.</summary>
    public RowRange? AppendRows { get; }
    /// <summary>kv: positions whose q rows are the decode queries.</summary>
    public DatasetFileSpec? QueryPositions { get; }
    public int? HeadDim { get; }
    public long? Positions { get; }
    /// <summary>kv: the attention score scale (1/sqrt(head_dim)).</summary>
    public double? ScoreScale { get; }
    public string? Source { get; }
    public string? Licence { get; }
    public string? Note { get; }
    public string? Vocab { get; }
    /// <summary>The absolute folder the manifest's relative paths are resolved against.</summary>
    public string Directory { get; }
    public string ManifestPath { get; }
    /// <summary>Top-level fields this type does not model ("model", "reference_ndcg_at_10", "recall", ...).</summary>
    public IReadOnlyDictionary<string, JsonElement> Extra { get; }

    /// <summary>A string-valued top-level extra field, or null.</summary>
    public string? ExtraString(string name) =>
        Extra.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>Every file spec of the manifest, in manifest order of the modelled fields.</summary>
    public IReadOnlyList<DatasetFileSpec> Files()
    {
        var files = new List<DatasetFileSpec>();
        void Add(DatasetFileSpec? spec)
        {
            if (spec is not null) files.Add(spec);
        }
        Add(Base);
        Add(Queries);
        Add(GroundTruth);
        Add(Corpus);
        Add(Qrels);
        Add(SparseQueries);
        files.AddRange(Sets);
        foreach (var head in Heads)
        {
            Add(head.Queries);
            Add(head.Keys);
            Add(head.Values);
            Add(head.GroundTruth);
            Add(head.GroundTruthKthScore);
        }
        Add(QueryPositions);
        return files;
    }

    /// <summary>The file specs whose file does not exist on this machine.</summary>
    public IReadOnlyList<DatasetFileSpec> MissingFiles()
    {
        var missing = new List<DatasetFileSpec>();
        foreach (var spec in Files())
        {
            if (!spec.Exists) missing.Add(spec);
        }
        return missing;
    }

    /// <summary>Throws NotFound naming every missing file, its manifest field and how to get it.</summary>
    public void EnsureFilesExist()
    {
        var missing = MissingFiles();
        if (missing.Count == 0) return;
        var message = new StringBuilder();
        message.Append($"dataset '{Name}' ({ManifestPath}): ");
        message.Append(missing.Count == 1 ? "a file it lists is missing:" : $"{missing.Count} files it lists are missing:");
        var hints = new List<string>();
        foreach (var spec in missing)
        {
            message.Append($"\n  {spec.Field}: {spec.Path}");
            if (spec.Install is not null && !hints.Contains(spec.Install)) hints.Add(spec.Install);
        }
        foreach (var hint in hints) message.Append($"\n  install it with: {hint}");
        throw new RetrievalException(ErrorKind.NotFound, message.ToString());
    }

    /// <summary>
    /// Reads the manifest of a dataset folder (or the manifest file itself). With <paramref name="requireFiles"/>
    /// every listed file must exist; without it only the description is read and checked.
    /// </summary>
    public static DatasetManifest Load(string folderOrManifest, bool requireFiles = true)
    {
        var manifestPath = ManifestPathOf(folderOrManifest);
        string json;
        try
        {
            json = System.IO.File.ReadAllText(manifestPath);
        }
        catch (IOException e)
        {
            throw new RetrievalException(ErrorKind.NotFound, $"cannot read {manifestPath}: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new RetrievalException(ErrorKind.NotFound, $"cannot read {manifestPath}: {e.Message}", e);
        }
        var manifest = Parse(json, Path.GetDirectoryName(manifestPath)!, manifestPath);
        if (requireFiles) manifest.EnsureFilesExist();
        return manifest;
    }

    /// <summary>Parses manifest text; relative file paths resolve against <paramref name="folder"/>. No file checks.</summary>
    public static DatasetManifest Parse(string json, string folder, string? manifestPath = null) =>
        ManifestReader.Read(json, Path.GetFullPath(folder), manifestPath ?? Path.Combine(Path.GetFullPath(folder), FileName));

    /// <summary>The manifest.json of a folder, or the path itself when it names a file.</summary>
    public static string ManifestPathOf(string folderOrManifest)
    {
        var full = Path.GetFullPath(folderOrManifest);
        if (System.IO.File.Exists(full)) return full;
        if (System.IO.Directory.Exists(full))
        {
            var inside = Path.Combine(full, FileName);
            if (System.IO.File.Exists(inside)) return inside;
            throw new RetrievalException(ErrorKind.NotFound,
                $"{full} is a folder but holds no {FileName}: a dataset folder needs one (see ../shared/datasets/README.md for the layout)");
        }
        throw new RetrievalException(ErrorKind.NotFound, $"no dataset folder or manifest at {full}");
    }

    public override string ToString() => $"{Name} ({Kind.ToName()}) at {Directory}";
}
