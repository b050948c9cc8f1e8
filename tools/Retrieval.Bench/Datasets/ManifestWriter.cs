using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Retrieval.Index.Storage;

namespace Retrieval.Bench.Datasets;

/// <summary>Writes manifest.json atomically (temp name, then rename), indented, non-ASCII text kept readable.</summary>
internal static class ManifestWriter
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Write(string folder, JsonObject manifest)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, DatasetManifest.FileName);
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(manifest.ToJsonString(Options) + "\n"));
        return path;
    }

    /// <summary>The catalog entry's JSON as a starting point for a prepared set's manifest, without the recipe.</summary>
    public static JsonObject FromCatalog(CatalogEntry entry)
    {
        var node = JsonNode.Parse(entry.Json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        node.Remove("recipe");
        node.Remove("alias_of");
        node.Remove("size");
        return node;
    }
}
