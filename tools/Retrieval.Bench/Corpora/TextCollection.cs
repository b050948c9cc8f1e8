using Retrieval.Index.Errors;

namespace Retrieval.Bench.Corpora;

/// <summary>
/// Texts with unique string ids, in file order. Row i of any vectors encoded from <see cref="Texts"/> belongs to
/// <see cref="Ids"/>[i]; <see cref="RowOf"/> maps an id back to its row.
/// </summary>
public sealed class TextCollection
{
    private readonly Dictionary<string, int> _rows;

    public TextCollection(string[] ids, string[] texts)
    {
        if (ids.Length != texts.Length)
            Guard.ThrowInvalid($"text collection has {ids.Length} ids but {texts.Length} texts");
        Ids = ids;
        Texts = texts;
        _rows = new Dictionary<string, int>(ids.Length, StringComparer.Ordinal);
        for (int i = 0; i < ids.Length; i++)
        {
            if (!_rows.TryAdd(ids[i], i))
                Guard.ThrowInvalid($"text collection has id '{ids[i]}' twice (rows {_rows[ids[i]]} and {i})");
        }
    }

    public int Count => Ids.Length;
    public string[] Ids { get; }
    public string[] Texts { get; }

    /// <summary>The row of <paramref name="id"/>, or -1 when the collection has no such id.</summary>
    public int RowOf(string id) => _rows.TryGetValue(id, out var row) ? row : -1;

    public bool Contains(string id) => _rows.ContainsKey(id);
}
