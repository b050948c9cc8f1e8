#pragma warning disable MEVD9001 // provider-services model types are experimental in VectorData 10.x
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData.ProviderServices;
using Retrieval.Query.Engine;

namespace Retrieval.Query.VectorData;

/// <summary>
/// Maps a VectorData record (a CLR type or a dynamic dictionary) to an engine record and back: the key to the
/// engine key, the vector to the dense field, data properties to a JSON payload object keyed by storage name, and the
/// full-text property (when the collection has the engine's sparse text field) to the record's text.
/// </summary>
internal sealed class RecordMapper
{
    private readonly CollectionModel _model;
    private readonly JsonSerializerOptions _json;

    public RecordMapper(CollectionModel model, JsonSerializerOptions? json)
    {
        _model = model;
        _json = json ?? JsonSerializerOptions.Default;
        Keys = new RecordKeys(model.KeyProperty.Type, model.KeyProperty.ModelName);
        Vector = model.VectorProperties.Count > 0 ? model.VectorProperties[0] : null;
        foreach (var p in model.DataProperties)
        {
            if (!p.IsFullTextIndexed) continue;
            if (p.Type != typeof(string))
                throw new NotSupportedException($"full-text property '{p.ModelName}' has type {p.Type.Name}; it must be a string");
            if (FullText is not null)
                throw new NotSupportedException($"properties '{FullText.ModelName}' and '{p.ModelName}' are both full-text indexed; the engine keeps one text field per record");
            FullText = p;
        }
    }

    public RecordKeys Keys { get; }
    public VectorPropertyModel? Vector { get; }
    public DataPropertyModel? FullText { get; }

    /// <summary>
    /// The engine record for <paramref name="record"/>. <paramref name="generated"/> is the vector an embedding
    /// generator produced for it, when the vector property's type is an input (such as a string) rather than floats.
    /// </summary>
    public EngineRecord ToEngine(object record, ReadOnlyMemory<float>? generated, bool withText)
    {
        var key = Keys.ToEngine(_model.KeyProperty.GetValueAsObject(record));
        float[]? dense = null;
        if (Vector is not null)
        {
            ReadOnlyMemory<float>? vector = generated ?? Vector.GetValueAsObject(record) switch
            {
                null => null,
                ReadOnlyMemory<float> m => m,
                float[] a => a,
                Embedding<float> e => e.Vector,
                var other => throw new ArgumentException($"vector property '{Vector.ModelName}' holds a {other.GetType().Name}, not float32 values"),
            };
            if (vector is { } v) dense = v.ToArray();
        }
        var payload = new JsonObject();
        foreach (var p in _model.DataProperties)
        {
            var value = p.GetValueAsObject(record);
            payload[p.StorageName] = value is null ? null : JsonSerializer.SerializeToNode(value, p.Type, _json);
        }
        string? text = withText && FullText is not null ? FullText.GetValueAsObject(record) as string : null;
        return new EngineRecord(key, dense, Payload: JsonSerializer.SerializeToUtf8Bytes(payload, _json), Text: text);
    }

    /// <summary>A new <typeparamref name="TRecord"/> filled from a stored record (vector only when it was read).</summary>
    public TRecord FromEngine<TRecord>(RecordKey key, byte[]? payload, float[]? dense)
    {
        var record = _model.CreateRecord<TRecord>()!;
        _model.KeyProperty.SetValueAsObject(record, Keys.FromEngine(key));
        if (payload is { Length: > 0 })
        {
            using var document = JsonDocument.Parse(payload);
            foreach (var p in _model.DataProperties)
            {
                if (!document.RootElement.TryGetProperty(p.StorageName, out var element)) continue;
                object? value = element.ValueKind == JsonValueKind.Null ? null : element.Deserialize(p.Type, _json);
                p.SetValueAsObject(record, value);
            }
        }
        if (dense is not null && Vector is not null && RetrievalModelBuilder.IsNativeVectorType(Vector.Type))
        {
            object value = Vector.Type == typeof(float[]) ? dense
                : Vector.Type == typeof(Embedding<float>) ? new Embedding<float>(dense)
                : new ReadOnlyMemory<float>(dense);
            Vector.SetValueAsObject(record, value);
        }
        return record;
    }
}
