namespace Retrieval.Query.Engine;

/// <summary>
/// The engine's collections: by incarnation id (every collection ever created gets a new one, so a dropped and
/// re-created name is a different collection) and by name, plus the next id to hand out. Thread-safe.
/// </summary>
internal sealed class EngineCatalog(uint nextCollectionId, Func<uint, CollectionSchema, Collection> create)
{
    private readonly Dictionary<string, Collection> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, Collection> _byId = [];
    private readonly object _gate = new();
    private uint _nextCollectionId = nextCollectionId;

    /// <summary>The id the next created collection gets (persisted in the engine manifest).</summary>
    public uint NextCollectionId
    {
        get { lock (_gate) return _nextCollectionId; }
    }

    public Collection? Find(string name)
    {
        lock (_gate) return _byName.GetValueOrDefault(name);
    }

    public Collection? Get(uint id)
    {
        lock (_gate) return _byId.GetValueOrDefault(id);
    }

    public bool Contains(uint id)
    {
        lock (_gate) return _byId.ContainsKey(id);
    }

    /// <summary>
    /// Creates the collection with this id unless it exists (then null: replay is idempotent). Replay over a newer
    /// checkpoint can re-create an incarnation that a later entry drops again; ids only grow, so a name already held
    /// by a newer incarnation keeps it.
    /// </summary>
    public Collection? Add(uint id, CollectionSchema schema)
    {
        lock (_gate)
        {
            if (_byId.ContainsKey(id)) return null;
            var collection = create(id, schema);
            _byId[id] = collection;
            if (!_byName.TryGetValue(schema.Name, out var holder) || holder.Id < id) _byName[schema.Name] = collection;
            _nextCollectionId = Math.Max(_nextCollectionId, id + 1);
            return collection;
        }
    }

    /// <summary>Removes the collection with this id (and its name, if it still holds it); null when there is none.</summary>
    public Collection? Remove(uint id)
    {
        lock (_gate)
        {
            if (!_byId.Remove(id, out var dropped)) return null;
            if (_byName.TryGetValue(dropped.Name, out var holder) && holder.Id == dropped.Id) _byName.Remove(dropped.Name);
            return dropped;
        }
    }

    /// <summary>Every collection, by id (incarnations that lost their name to a newer one included).</summary>
    public List<Collection> All()
    {
        lock (_gate) return [.. _byId.Values];
    }

    /// <summary>The collections reachable by name, sorted by name.</summary>
    public List<Collection> Named()
    {
        List<Collection> all;
        lock (_gate) all = [.. _byName.Values];
        all.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return all;
    }
}
