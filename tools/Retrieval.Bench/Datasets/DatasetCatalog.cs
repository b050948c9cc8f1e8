using System.Reflection;
using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Datasets;

/// <summary>
/// One named set of the catalog (datasets/catalog/NAME.json): the manifest it will have once prepared, plus
/// what it is, where it comes from, its licence and how <see cref="DatasetRecipes"/> rebuilds it.
/// </summary>
public sealed class CatalogEntry
{
    internal CatalogEntry(DatasetManifest manifest, string json)
    {
        Manifest = manifest;
        Json = json;
        Description = manifest.ExtraString("description") ?? "";
        Size = manifest.ExtraString("size");
        AliasOf = manifest.ExtraString("alias_of");
        if (manifest.Extra.TryGetValue("recipe", out var recipe) && recipe.ValueKind == JsonValueKind.Object)
        {
            RecipeMethod = recipe.TryGetProperty("method", out var m) ? m.GetString() ?? "" : "";
            RecipeDuration = recipe.TryGetProperty("duration", out var d) ? d.GetString() : null;
            Reproducibility = recipe.TryGetProperty("reproducibility", out var r) ? r.GetString() : null;
            var steps = new List<string>();
            if (recipe.TryGetProperty("steps", out var s) && s.ValueKind == JsonValueKind.Array)
            {
                foreach (var step in s.EnumerateArray()) steps.Add(step.GetString() ?? "");
            }
            RecipeSteps = steps;
        }
        else
        {
            RecipeMethod = "";
            RecipeSteps = [];
        }
    }

    public string Name => Manifest.Name;
    public DatasetKind Kind => Manifest.Kind;
    public Metric? Metric => Manifest.Metric;
    public int? Dims => Manifest.Dims;
    public string Description { get; }
    /// <summary>Rows of the searchable side: base vectors, passages or documents (null for query-only sets).</summary>
    public long? BaseCount => Manifest.Base?.Count ?? Manifest.Corpus?.Count;
    /// <summary>Queries (the first set's count for sets[] manifests).</summary>
    public long? QueryCount => Manifest.Queries?.Count ?? (Manifest.Sets.Count > 0 ? Manifest.Sets[0].Count : null)
        ?? Manifest.QueryPositions?.Count;
    public string? Size { get; }
    public string? Source => Manifest.Source;
    public string? Licence => Manifest.Licence;
    /// <summary>The set whose files this name reuses (lexical-passages -> passages), or null.</summary>
    public string? AliasOf { get; }
    /// <summary>"debian-texts", "debian-texts+minilm", "debian-fashion-mnist", "copy-shared", "slice-bigann10k".</summary>
    public string RecipeMethod { get; }
    public IReadOnlyList<string> RecipeSteps { get; }
    public string? RecipeDuration { get; }
    /// <summary>How close a rebuilt set is to the shared copy, said plainly.</summary>
    public string? Reproducibility { get; }
    /// <summary>The catalog file parsed as a manifest (file paths resolve against a placeholder folder).</summary>
    public DatasetManifest Manifest { get; }
    /// <summary>The catalog file's text.</summary>
    public string Json { get; }
}

/// <summary>A catalog entry or a folder found by the locator, and whether it can be used on this machine.</summary>
public sealed record DatasetListing(
    string Name,
    DatasetKind Kind,
    string Description,
    long? BaseCount,
    long? QueryCount,
    int? Dims,
    Metric? Metric,
    bool Available,
    string? Directory,
    string? Origin,
    IReadOnlyList<string> MissingFiles,
    string? Problem,
    CatalogEntry? Entry);

/// <summary>The named datasets this project knows how to get (manifests in datasets/catalog, embedded here).</summary>
public static class DatasetCatalog
{
    private const string ResourcePrefix = "Retrieval.Bench.Datasets.Catalog.";
    private static readonly Lazy<IReadOnlyList<CatalogEntry>> LazyEntries = new(LoadEntries);

    /// <summary>Every catalog entry, sorted by name.</summary>
    public static IReadOnlyList<CatalogEntry> Entries => LazyEntries.Value;

    public static CatalogEntry? Find(string name)
    {
        foreach (var entry in Entries)
        {
            if (string.Equals(entry.Name, name, StringComparison.Ordinal)) return entry;
        }
        return null;
    }

    public static CatalogEntry Get(string name) =>
        Find(name) ?? throw new RetrievalException(ErrorKind.NotFound,
            $"'{name}' is not in the dataset catalog: known names are {string.Join(", ", Names())}");

    public static IReadOnlyList<string> Names()
    {
        var names = new List<string>(Entries.Count);
        foreach (var entry in Entries) names.Add(entry.Name);
        return names;
    }

    /// <summary>The set an alias reuses (lexical-passages -> passages), or null.</summary>
    public static string? AliasOf(string name) => Find(name)?.AliasOf;

    /// <summary>
    /// Every catalog entry with where it is on this machine, then any other dataset folder the locator finds.
    /// A set is available when its manifest loads and every file it lists exists.
    /// </summary>
    public static IReadOnlyList<DatasetListing> List(DatasetLocator? locator = null)
    {
        locator ??= DatasetLocator.FromEnvironment();
        var listings = new List<DatasetListing>();
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in Entries)
        {
            DatasetLocation? location = null;
            try
            {
                location = locator.Locate(entry.Name);
            }
            catch (RetrievalException)
            {
                // Not on this machine: listed as unavailable below.
            }
            listings.Add(Describe(entry.Name, entry, location));
            listed.Add(entry.Name);
        }
        foreach (var location in locator.ListAll())
        {
            if (listed.Add(location.Name)) listings.Add(Describe(location.Name, null, location));
        }
        return listings;
    }

    private static DatasetListing Describe(string name, CatalogEntry? entry, DatasetLocation? location)
    {
        if (location is null)
        {
            return new DatasetListing(name, entry!.Kind, entry.Description, entry.BaseCount, entry.QueryCount, entry.Dims,
                entry.Metric, false, null, null, [], $"not on this machine: run `retrieval datasets prepare {name}`", entry);
        }
        try
        {
            var manifest = location.Load(requireFiles: false);
            var missing = new List<string>();
            var hints = new List<string>();
            foreach (var spec in manifest.MissingFiles())
            {
                missing.Add(spec.Path);
                if (spec.Install is not null && !hints.Contains(spec.Install)) hints.Add(spec.Install);
            }
            string? problem = missing.Count == 0 ? null
                : hints.Count > 0 ? $"{missing.Count} listed file(s) missing; install with: {string.Join("; ", hints)}"
                : $"{missing.Count} listed file(s) missing";
            return new DatasetListing(name, manifest.Kind, entry?.Description ?? manifest.Note ?? "",
                manifest.Base?.Count ?? manifest.Corpus?.Count ?? entry?.BaseCount,
                manifest.Queries?.Count ?? (manifest.Sets.Count > 0 ? manifest.Sets[0].Count : null) ?? entry?.QueryCount,
                manifest.Dims, manifest.Metric, missing.Count == 0, location.Directory, location.Origin, missing, problem, entry);
        }
        catch (RetrievalException e)
        {
            return new DatasetListing(name, entry?.Kind ?? DatasetKind.Dense, entry?.Description ?? "", entry?.BaseCount,
                entry?.QueryCount, entry?.Dims, entry?.Metric, false, location.Directory, location.Origin, [], e.Message, entry);
        }
    }

    private static IReadOnlyList<CatalogEntry> LoadEntries()
    {
        var assembly = typeof(DatasetCatalog).Assembly;
        var entries = new List<CatalogEntry>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".json", StringComparison.Ordinal))
                continue;
            entries.Add(ReadEntry(assembly, resource));
        }
        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return entries;
    }

    private static CatalogEntry ReadEntry(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        var json = reader.ReadToEnd();
        var fileName = resource[ResourcePrefix.Length..];
        // Catalog paths are placeholders until prepared: resolve them against a folder named for the set.
        var manifest = DatasetManifest.Parse(json, Path.Combine(Path.GetTempPath(), "retrieval-catalog", Path.GetFileNameWithoutExtension(fileName)),
            "datasets/catalog/" + fileName);
        if (manifest.Name + ".json" != fileName)
            throw new RetrievalException(ErrorKind.Internal, $"datasets/catalog/{fileName} names the set '{manifest.Name}': the file must be {manifest.Name}.json");
        return new CatalogEntry(manifest, json);
    }
}
