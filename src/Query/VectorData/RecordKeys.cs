using System.Globalization;
using Retrieval.Query.Engine;

namespace Retrieval.Query.VectorData;

/// <summary>
/// Converts VectorData keys to engine keys and back. int and long become integer keys; string and Guid become string
/// keys (a Guid in its 36-character "D" form), so the same collection reads back the CLR type it was written with.
/// </summary>
internal sealed class RecordKeys
{
    private readonly Type _clrType;

    public RecordKeys(Type keyPropertyType, string propertyName)
    {
        _clrType = Nullable.GetUnderlyingType(keyPropertyType) ?? keyPropertyType;
        if (Array.IndexOf(RetrievalModelBuilder.KeyTypes, _clrType) < 0)
            throw new NotSupportedException($"key property '{propertyName}' has type {_clrType.Name}; the engine supports string, int, long and Guid keys");
    }

    public KeyKind Kind => _clrType == typeof(int) || _clrType == typeof(long) ? KeyKind.Integer : KeyKind.String;

    public RecordKey ToEngine(object? key) => key switch
    {
        null => throw new ArgumentException("record key is null"),
        string s => RecordKey.Of(s),
        long l => RecordKey.Of(l),
        int i => RecordKey.Of(i),
        Guid g => RecordKey.Of(g.ToString("D")),
        _ => throw new ArgumentException($"record key {key} has type {key.GetType().Name}; this collection's keys are {_clrType.Name}"),
    };

    public object FromEngine(RecordKey key)
    {
        if (_clrType == typeof(string)) return key.String;
        if (_clrType == typeof(long)) return key.Integer;
        if (_clrType == typeof(int)) return checked((int)key.Integer);
        return Guid.Parse(key.String, CultureInfo.InvariantCulture);
    }
}
