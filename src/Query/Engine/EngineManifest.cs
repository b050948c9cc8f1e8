using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Query.Engine;

/// <summary>
/// engine.json: which record store checkpoint is current, the write-ahead log address replay starts from (every
/// entry before it is in that checkpoint) and the next collection incarnation id. Written to a temporary file,
/// flushed and renamed into place, so it is always the old or the new version, never a mix.
/// </summary>
internal sealed record EngineManifest(string Format, int Version, Guid? Checkpoint, long ReplayFrom, uint NextCollectionId)
{
    public const string FormatName = "retrieval-engine";
    public const int CurrentVersion = 1;
    public const string FileName = "engine.json";

    public static EngineManifest Empty => new(FormatName, CurrentVersion, null, 0, 1);

    public static EngineManifest Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return Empty;
        EngineManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<EngineManifest>(File.ReadAllBytes(path), SchemaJson.Options);
        }
        catch (JsonException e)
        {
            throw new RetrievalException(ErrorKind.Corrupt, $"{path}: not a valid engine manifest ({e.Message})");
        }
        if (manifest is null || manifest.Format != FormatName)
            throw new RetrievalException(ErrorKind.Incompatible, $"{path}: format is '{manifest?.Format}', expected '{FormatName}'");
        if (manifest.Version > CurrentVersion)
            throw new RetrievalException(ErrorKind.Incompatible, $"{path}: version {manifest.Version} is newer than this engine's {CurrentVersion}");
        return manifest;
    }

    public void Save(string directory)
    {
        AtomicFile.WriteAllBytes(Path.Combine(directory, FileName), JsonSerializer.SerializeToUtf8Bytes(this, SchemaJson.Options));
    }
}
