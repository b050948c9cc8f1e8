namespace Retrieval.Query.Indexes;

/// <summary>
/// Opens one on-disk index format. An index directory holds a manifest.json whose "format" field names the
/// format; <see cref="IndexRegistry"/> routes the directory to the opener registered for that name, so a new
/// index kind plugs in by adding its opener to the registry, without touching the commands that search.
/// </summary>
public interface IIndexOpener
{
    /// <summary>The manifest's "format" value this opener reads, e.g. "spann".</summary>
    string Format { get; }

    /// <summary>One line for listings and error messages.</summary>
    string Description { get; }

    /// <summary>Opens the index in <paramref name="directory"/>; <paramref name="manifest"/> is its parsed manifest.json.</summary>
    ISearchIndex Open(string directory, IndexManifestHeader manifest);
}
