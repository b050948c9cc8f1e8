using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Retrieval.Index.Seismic;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Engine;

/// <summary>
/// How <see cref="DenseIndexOptions"/> and <see cref="SparseIndexOptions"/> are stored in a schema (the write-ahead
/// log and the record store keep schemas as JSON through <see cref="SchemaJson"/>, which registers these converters). The knobs the schema has always held stay flat under their first
/// names (kind, min_rows, head_ratio, ..., search_heads, prune_epsilon, in_memory; avg_postings, ..., query_cut,
/// heap_factor, heap_factor_growth, knn_neighbours), written every time, so schemas stored by earlier versions read
/// unchanged and new ones read in them. Any other build option or search parameter that differs from its default
/// goes under "build" / "search" with the index record's own member names, so a knob added to the index records is
/// stored without touching this file. Reading applies the nested objects first, then the flat fields.
/// </summary>
internal static class IndexOptionsJson
{
    /// <summary>The members of <paramref name="value"/> that differ from <paramref name="defaults"/>, less those stored flat.</summary>
    public static JsonObject? Extras<T>(T value, T defaults, JsonSerializerOptions options, params string[] flat)
    {
        var node = JsonSerializer.SerializeToNode(value, options)!.AsObject();
        var baseline = JsonSerializer.SerializeToNode(defaults, options)!.AsObject();
        var extras = new JsonObject();
        foreach (var (name, member) in node)
        {
            if (Array.IndexOf(flat, name) >= 0) continue;
            if (baseline.TryGetPropertyValue(name, out var fallback) && JsonNode.DeepEquals(member, fallback)) continue;
            extras[name] = member?.DeepClone();
        }
        return extras.Count > 0 ? extras : null;
    }

    public static void WriteExtras(Utf8JsonWriter writer, string name, JsonObject? extras, JsonSerializerOptions options)
    {
        if (extras is null) return;
        writer.WritePropertyName(name);
        extras.WriteTo(writer, options);
    }

    public static void Write<T>(Utf8JsonWriter writer, string name, T value, JsonSerializerOptions options)
    {
        writer.WritePropertyName(name);
        JsonSerializer.Serialize(writer, value, options);
    }

    public static T Read<T>(JsonElement element, JsonSerializerOptions options) =>
        element.Deserialize<T>(options) ?? throw new JsonException($"null where a {typeof(T).Name} is expected");
}

internal sealed class DenseIndexOptionsJson : JsonConverter<DenseIndexOptions>
{
    private static readonly string[] FlatBuild = ["head_ratio", "replica_count", "posting_pages", "storage"];
    private static readonly string[] FlatSearch = ["heads", "prune_epsilon", "io"];

    public override DenseIndexOptions Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new JsonException("dense index options are not a JSON object");
        var result = DenseIndexOptions.Default;
        var build = root.TryGetProperty("build", out var b) ? IndexOptionsJson.Read<SpannBuildOptions>(b, options) : result.Build;
        var search = root.TryGetProperty("search", out var s) ? IndexOptionsJson.Read<SpannSearchParameters>(s, options) : result.Search;
        foreach (var p in root.EnumerateObject())
        {
            var v = p.Value;
            switch (p.Name)
            {
                case "kind": result = result with { Kind = IndexOptionsJson.Read<DenseIndexKind>(v, options) }; break;
                case "min_rows": result = result with { MinRows = v.GetInt32() }; break;
                case "in_memory": result = result with { InMemory = v.GetBoolean() }; break;
                case "head_ratio": build = build with { HeadRatio = v.GetDouble() }; break;
                case "replica_count": build = build with { ReplicaCount = v.GetInt32() }; break;
                case "posting_pages": build = build with { PostingPages = v.GetInt32() }; break;
                case "storage": build = build with { Storage = IndexOptionsJson.Read<SpannStorage>(v, options) }; break;
                case "search_heads": search = search with { Heads = v.GetInt32() }; break;
                case "prune_epsilon": search = search with { PruneEpsilon = v.GetDouble() }; break;
            }
        }
        return result with { Build = build, Search = search };
    }

    public override void Write(Utf8JsonWriter writer, DenseIndexOptions value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        IndexOptionsJson.Write(writer, "kind", value.Kind, options);
        writer.WriteNumber("min_rows", value.MinRows);
        writer.WriteNumber("head_ratio", value.Build.HeadRatio);
        writer.WriteNumber("replica_count", value.Build.ReplicaCount);
        writer.WriteNumber("posting_pages", value.Build.PostingPages);
        // Persisted resolved (the engine's vectors are float32), so a later change of the default rule cannot change
        // the postings of an existing collection's next segment.
        IndexOptionsJson.Write(writer, "storage", value.Build.StorageFor(ElementType.Float32), options);
        writer.WriteNumber("search_heads", value.Search.Heads);
        writer.WriteNumber("prune_epsilon", value.Search.PruneEpsilon);
        writer.WriteBoolean("in_memory", value.InMemory);
        IndexOptionsJson.WriteExtras(writer, "build", IndexOptionsJson.Extras(value.Build, DenseIndexOptions.Default.Build, options, FlatBuild), options);
        IndexOptionsJson.WriteExtras(writer, "search", IndexOptionsJson.Extras(value.Search, DenseIndexOptions.Default.Search, options, FlatSearch), options);
        writer.WriteEndObject();
    }
}

internal sealed class SparseIndexOptionsJson : JsonConverter<SparseIndexOptions>
{
    private static readonly string[] FlatBuild = ["avg_postings", "centroid_fraction", "summary_energy", "knn_neighbours"];
    private static readonly string[] FlatSearch = ["query_cut", "heap_factor", "heap_factor_growth"];

    public override SparseIndexOptions Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new JsonException("sparse index options are not a JSON object");
        var result = SparseIndexOptions.Default;
        var build = root.TryGetProperty("build", out var b) ? IndexOptionsJson.Read<SeismicBuildOptions>(b, options) : result.Build;
        var search = root.TryGetProperty("search", out var s) ? IndexOptionsJson.Read<SeismicSearchParameters>(s, options) : result.Search;
        foreach (var p in root.EnumerateObject())
        {
            var v = p.Value;
            switch (p.Name)
            {
                case "kind": result = result with { Kind = IndexOptionsJson.Read<SparseIndexKind>(v, options) }; break;
                case "min_rows": result = result with { MinRows = v.GetInt32() }; break;
                case "avg_postings": build = build with { AvgPostings = v.GetDouble() }; break;
                case "centroid_fraction": build = build with { CentroidFraction = v.GetDouble() }; break;
                case "summary_energy": build = build with { SummaryEnergy = v.GetDouble() }; break;
                case "knn_neighbours": build = build with { KnnNeighbours = v.GetInt32() }; break;
                case "query_cut": search = search with { QueryCut = v.GetInt32() }; break;
                case "heap_factor": search = search with { HeapFactor = v.GetSingle() }; break;
                case "heap_factor_growth": search = search with { HeapFactorGrowth = v.GetSingle() }; break;
            }
        }
        return result with { Build = build, Search = search };
    }

    public override void Write(Utf8JsonWriter writer, SparseIndexOptions value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        IndexOptionsJson.Write(writer, "kind", value.Kind, options);
        writer.WriteNumber("min_rows", value.MinRows);
        writer.WriteNumber("avg_postings", value.Build.AvgPostings);
        writer.WriteNumber("centroid_fraction", value.Build.CentroidFraction);
        writer.WriteNumber("summary_energy", value.Build.SummaryEnergy);
        writer.WriteNumber("query_cut", value.Search.QueryCut);
        writer.WriteNumber("heap_factor", value.Search.HeapFactor);
        writer.WriteNumber("heap_factor_growth", value.Search.HeapFactorGrowth);
        writer.WriteNumber("knn_neighbours", value.Build.KnnNeighbours);
        IndexOptionsJson.WriteExtras(writer, "build", IndexOptionsJson.Extras(value.Build, SparseIndexOptions.Default.Build, options, FlatBuild), options);
        IndexOptionsJson.WriteExtras(writer, "search", IndexOptionsJson.Extras(value.Search, SparseIndexOptions.Default.Search, options, FlatSearch), options);
        writer.WriteEndObject();
    }
}
