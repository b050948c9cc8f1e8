using Retrieval.Index.Errors;

namespace Retrieval.Bench.Datasets;

/// <summary>One folder that holds dataset folders (each with a manifest.json), and why it is searched.</summary>
public sealed record DatasetRoot(string Directory, string Origin);

/// <summary>Where a dataset was found: its folder, manifest and the root (or explicit path) that led there.</summary>
public sealed record DatasetLocation(string Name, string Directory, string ManifestPath, string Origin)
{
    /// <summary>Reads the manifest; with <paramref name="requireFiles"/> every listed file must exist.</summary>
    public DatasetManifest Load(bool requireFiles = true) => DatasetManifest.Load(ManifestPath, requireFiles);
}

/// <summary>
/// Turns a <c>--dataset</c> argument into a dataset folder. A path to a folder holding manifest.json (or to the
/// manifest itself) is used as is. Otherwise the argument is a name, looked up as ROOT/NAME/manifest.json in these
/// roots, first match wins:
/// 1. $RETRIEVAL_DATASETS;
/// 2. the shared datasets beside the checkout (../shared/datasets next to the folder holding Retrieval.sln, found
///    by walking up from the current directory and from the program's own folder);
/// 3. where <c>retrieval datasets prepare</c> writes ($RETRIEVAL_DATA_HOME, else ~/.cache/retrieval/datasets);
/// 4. the repository's datasets/fixtures.
/// A catalog alias (lexical-passages = the passages texts) resolves to the set it names.
/// </summary>
public sealed class DatasetLocator
{
    public const string DatasetsVariable = "RETRIEVAL_DATASETS";
    public const string DataHomeVariable = "RETRIEVAL_DATA_HOME";

    public DatasetLocator(IReadOnlyList<DatasetRoot> roots)
    {
        Roots = roots;
    }

    /// <summary>The roots searched for names, in order.</summary>
    public IReadOnlyList<DatasetRoot> Roots { get; }

    /// <summary>
    /// The locator for this process: roots from the environment, the checkout and the user's cache.
    /// <paramref name="environment"/> and <paramref name="currentDirectory"/> replace the process's own (for tests).
    /// </summary>
    public static DatasetLocator FromEnvironment(Func<string, string?>? environment = null, string? currentDirectory = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var roots = new List<DatasetRoot>();
        void Add(string? dir, string origin)
        {
            if (string.IsNullOrWhiteSpace(dir)) return;
            var full = Path.GetFullPath(dir);
            foreach (var r in roots)
            {
                if (string.Equals(r.Directory, full, StringComparison.Ordinal)) return;
            }
            roots.Add(new DatasetRoot(full, origin));
        }
        Add(environment(DatasetsVariable), "$" + DatasetsVariable);
        var repo = FindRepositoryRoot(currentDirectory);
        if (repo is not null) Add(Path.Combine(repo, "..", "shared", "datasets"), "shared datasets beside the checkout");
        Add(PreparedRoot(environment), "prepared datasets");
        if (repo is not null) Add(Path.Combine(repo, "datasets", "fixtures"), "repository fixtures");
        return new DatasetLocator(roots);
    }

    /// <summary>Resolves a name or path with the roots of <see cref="FromEnvironment"/>.</summary>
    public static DatasetLocation Resolve(string nameOrPath) => FromEnvironment().Locate(nameOrPath);

    /// <summary>Resolves and loads; every file the manifest lists must exist.</summary>
    public static DatasetManifest Open(string nameOrPath, bool requireFiles = true) =>
        Resolve(nameOrPath).Load(requireFiles);

    /// <summary>Where <c>prepare</c> writes by default: $RETRIEVAL_DATA_HOME, else ~/.cache/retrieval/datasets.</summary>
    public static string PreparedRoot(Func<string, string?>? environment = null)
    {
        var home = (environment ?? Environment.GetEnvironmentVariable)(DataHomeVariable);
        if (!string.IsNullOrWhiteSpace(home)) return Path.GetFullPath(home);
        var user = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (string.IsNullOrEmpty(user)) user = Path.GetTempPath();
        return Path.Combine(user, ".cache", "retrieval", "datasets");
    }

    /// <summary>
    /// The folder holding Retrieval.sln above the current directory, else above the program's folder; null when
    /// neither is inside a checkout (an installed tool).
    /// </summary>
    public static string? FindRepositoryRoot(string? currentDirectory = null) =>
        FindAbove(currentDirectory ?? Directory.GetCurrentDirectory()) ?? FindAbove(AppContext.BaseDirectory);

    private static string? FindAbove(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Retrieval.sln"))) return dir.FullName;
        }
        return null;
    }

    /// <summary>
    /// Finds a dataset by path or name. Throws NotFound for a path without a manifest, and for an unknown name
    /// with the roots searched and the names that do exist.
    /// </summary>
    public DatasetLocation Locate(string nameOrPath)
    {
        if (string.IsNullOrWhiteSpace(nameOrPath)) Guard.ThrowInvalid("a dataset name or path is required");
        if (LooksLikePath(nameOrPath))
        {
            var manifestPath = DatasetManifest.ManifestPathOf(nameOrPath);
            var dir = Path.GetDirectoryName(manifestPath)!;
            return new DatasetLocation(Path.GetFileName(dir), dir, manifestPath, "path");
        }
        var name = nameOrPath.Trim();
        if (TryLocateName(name, out var found)) return found;
        var alias = DatasetCatalog.AliasOf(name);
        if (alias is not null && TryLocateName(alias, out var aliased))
            return aliased with { Name = name, Origin = $"{aliased.Origin} (alias of {alias})" };
        throw UnknownName(name);
    }

    /// <summary>True when the name resolves to a folder with a manifest (files are not checked).</summary>
    public bool TryLocateName(string name, out DatasetLocation location)
    {
        foreach (var root in Roots)
        {
            var manifest = Path.Combine(root.Directory, name, DatasetManifest.FileName);
            if (File.Exists(manifest))
            {
                location = new DatasetLocation(name, Path.GetDirectoryName(manifest)!, manifest, root.Origin);
                return true;
            }
        }
        location = null!;
        return false;
    }

    /// <summary>Every dataset folder under the roots, first root first; a name shadowed by an earlier root is skipped.</summary>
    public IReadOnlyList<DatasetLocation> ListAll()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var all = new List<DatasetLocation>();
        foreach (var root in Roots)
        {
            if (!Directory.Exists(root.Directory)) continue;
            var dirs = Directory.GetDirectories(root.Directory);
            Array.Sort(dirs, StringComparer.Ordinal);
            foreach (var dir in dirs)
            {
                var manifest = Path.Combine(dir, DatasetManifest.FileName);
                var name = Path.GetFileName(dir);
                if (File.Exists(manifest) && seen.Add(name))
                    all.Add(new DatasetLocation(name, dir, manifest, root.Origin));
            }
        }
        return all;
    }

    // A bare name has no separator and does not end in .json; "./x", "../x", "x/y", "/x" and "manifest.json" are paths.
    // An existing folder that holds a manifest also counts, so "tiny-dense" typed inside datasets/fixtures works.
    private static bool LooksLikePath(string arg) =>
        arg.Contains('/') || arg.Contains('\\') || arg.StartsWith('.') || arg.StartsWith('~')
        || arg.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
        || File.Exists(Path.Combine(arg, DatasetManifest.FileName));

    private RetrievalException UnknownName(string name)
    {
        var known = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var location in ListAll()) known.Add(location.Name);
        foreach (var catalogued in DatasetCatalog.Entries) known.Add(catalogued.Name);
        var message = new System.Text.StringBuilder();
        message.Append($"unknown dataset '{name}': no folder {name}/{DatasetManifest.FileName} in");
        if (Roots.Count == 0) message.Append(" any root (none configured)");
        foreach (var root in Roots)
        {
            var state = Directory.Exists(root.Directory) ? "" : " (absent)";
            message.Append($"\n  {root.Directory} [{root.Origin}]{state}");
        }
        message.Append($"\nknown names: {string.Join(", ", known)}");
        if (DatasetCatalog.Find(name) is { } entry)
            message.Append($"\n'{name}' is in the catalog but not on this machine: run `retrieval datasets prepare {entry.Name}`");
        else
            message.Append($"\nor pass the path of a folder holding a {DatasetManifest.FileName} (set ${DatasetsVariable} to add a root)");
        return new RetrievalException(ErrorKind.NotFound, message.ToString());
    }
}
