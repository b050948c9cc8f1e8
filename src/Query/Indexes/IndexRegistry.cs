using Retrieval.Index.Errors;

namespace Retrieval.Query.Indexes;

/// <summary>
/// The index formats this build can open, looked up by the "format" field of an index directory's
/// manifest.json. <see cref="Default"/> lists every format the engine ships; a new index kind adds its
/// opener there (SPANN, Seismic, ...), and every command that takes --index picks it up.
/// </summary>
public sealed class IndexRegistry
{
    private readonly Dictionary<string, IIndexOpener> _openers = new(StringComparer.OrdinalIgnoreCase);

    public IndexRegistry(IEnumerable<IIndexOpener> openers)
    {
        foreach (var opener in openers)
        {
            if (!_openers.TryAdd(opener.Format, opener))
                throw new RetrievalException(ErrorKind.Internal, $"two index openers claim format '{opener.Format}'");
        }
    }

    /// <summary>Every on-disk index format the engine ships.</summary>
    public static IndexRegistry Default { get; } = new([new Retrieval.Query.Indexes.Seismic.SeismicIndexOpener(), new Spann.SpannIndexOpener()]);

    public IReadOnlyCollection<IIndexOpener> Openers => _openers.Values;

    public ISearchIndex Open(string directory)
    {
        var header = IndexManifestHeader.Read(directory);
        if (_openers.TryGetValue(header.Format, out var opener)) return opener.Open(directory, header);
        var known = _openers.Count == 0
            ? "this registry has no index kinds; use --exact"
            : "known formats: " + string.Join(", ", _openers.Keys.Order(StringComparer.Ordinal));
        throw new RetrievalException(ErrorKind.Incompatible,
            $"unknown index format '{header.Format}' in {header.ManifestPath}: {known}");
    }
}
