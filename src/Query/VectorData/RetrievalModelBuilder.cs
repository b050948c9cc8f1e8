#pragma warning disable MEVD9001 // The provider-services model builder is marked experimental in VectorData 10.x.
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData.ProviderServices;

namespace Retrieval.Query.VectorData;

/// <summary>
/// Turns a record type (attributes) or a <c>VectorStoreCollectionDefinition</c> into the VectorData model for an
/// engine collection: one key (string, int, long or Guid), at most one vector property (float32; a string or other
/// input when an embedding generator is configured, MiniLM by default), data properties of any JSON-serialisable type.
/// </summary>
internal sealed class RetrievalModelBuilder : CollectionModelBuilder
{
    private static readonly CollectionModelBuildingOptions BuildingOptions = new()
    {
        // An engine collection has one dense field; a record without a vector is searched through its
        // full-text property only, which needs the engine's text encoders.
        SupportsMultipleVectors = false,
        RequiresAtLeastOneVector = false,
        UsesExternalSerializer = true,
    };

    public static readonly Type[] NativeVectorTypes =
    [
        typeof(ReadOnlyMemory<float>), typeof(ReadOnlyMemory<float>?), typeof(float[]), typeof(Embedding<float>),
    ];

    public static readonly Type[] KeyTypes = [typeof(string), typeof(int), typeof(long), typeof(Guid)];

    public RetrievalModelBuilder() : base(BuildingOptions)
    {
    }

    public static bool IsNativeVectorType(Type type) => Array.IndexOf(NativeVectorTypes, type) >= 0;

    protected override bool IsDataPropertyTypeValid(Type type, [NotNullWhen(false)] out string? supportedTypes)
    {
        // Data properties travel in the record's JSON payload, so anything System.Text.Json round-trips is fine.
        supportedTypes = "any JSON-serialisable type";
        return true;
    }

    protected override bool IsVectorPropertyTypeValid(Type type, [NotNullWhen(false)] out string? supportedTypes)
    {
        supportedTypes = "ReadOnlyMemory<float>, float[], Embedding<float>";
        return IsNativeVectorType(type);
    }

    protected override void ValidateKeyProperty(KeyPropertyModel keyProperty)
    {
        base.ValidateKeyProperty(keyProperty);
        var type = Nullable.GetUnderlyingType(keyProperty.Type) ?? keyProperty.Type;
        if (Array.IndexOf(KeyTypes, type) < 0 && type != typeof(object))
            throw new NotSupportedException($"key property '{keyProperty.ModelName}' has type {type.Name}; the engine supports string, int, long and Guid keys");
    }
}
