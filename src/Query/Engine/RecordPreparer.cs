using System.Text.Json;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// The first step of an upsert, before anything is logged: checks each record against the collection's schema and
/// the engine's limits, embeds or tokenizes text into the vectors not given, and encodes each record's stored bytes.
/// </summary>
internal sealed class RecordPreparer(EngineOptions options, TextEncoders encoders)
{
    /// <summary>The largest stored record: it must fit one log entry and one record store page.</summary>
    private int MaxRecordBytes => Math.Min(options.MaxEntryBytes - 64, 1 << (options.StorePageBits - 1));

    /// <summary>Validates the records, encodes any text, and returns each record's stored bytes.</summary>
    public List<byte[]> Prepare(Collection target, IReadOnlyList<EngineRecord> records)
    {
        var schema = target.Schema;
        var denseVectors = new float[]?[records.Count];
        var sparseVectors = new SparseTerms?[records.Count];
        var tokens = new int[records.Count];
        var denseTexts = new List<string>();
        var denseTextRows = new List<int>();
        var sparseTexts = new List<string>();
        var sparseTextRows = new List<int>();
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i] ?? throw new RetrievalException(ErrorKind.InvalidInput, $"records[{i}] is null");
            r.Key.Check(schema.Key, schema.Name);
            denseVectors[i] = r.Dense;
            sparseVectors[i] = r.Sparse;
            if (r.Text is not null)
            {
                if (!schema.TextEncoders) Guard.ThrowInvalid($"records[{i}].text given, but collection '{schema.Name}' was created without text encoders");
                if (schema.Dense is not null && r.Dense is null) { denseTexts.Add(r.Text); denseTextRows.Add(i); }
                if (schema.Sparse is not null && r.Sparse is null) { sparseTexts.Add(r.Text); sparseTextRows.Add(i); }
            }
            if (r.Payload is { } payload) CheckPayload(payload, schema, $"records[{i}].payload");
        }
        if (denseTexts.Count > 0)
        {
            var vectors = encoders.EncodeDense(denseTexts);
            for (int j = 0; j < vectors.Length; j++) denseVectors[denseTextRows[j]] = vectors[j];
        }
        if (sparseTexts.Count > 0)
        {
            var (vectors, lengths) = encoders.EncodeDocuments(sparseTexts, target);
            for (int j = 0; j < vectors.Length; j++)
            {
                sparseVectors[sparseTextRows[j]] = vectors[j];
                tokens[sparseTextRows[j]] = lengths[j];
            }
        }
        var encoded = new List<byte[]>(records.Count);
        int maxRecordBytes = MaxRecordBytes;
        for (int i = 0; i < records.Count; i++)
        {
            sparseVectors[i] = sparseVectors[i]?.Normalized();
            target.ValidateVectors(denseVectors[i], sparseVectors[i], $"records[{i}]");
            var bytes = RecordCodec.Encode(new RecordData(records[i].Key, denseVectors[i], sparseVectors[i], tokens[i], records[i].Payload),
                options.CompressPayloadBytes);
            if (bytes.Length > maxRecordBytes)
                throw new RetrievalException(ErrorKind.ResourceExhausted, $"records[{i}] is {bytes.Length} bytes stored, the limit is {maxRecordBytes}");
            encoded.Add(bytes);
        }
        return encoded;
    }

    /// <summary>Throws when a payload is over the size limit (ResourceExhausted) or, for JSON collections, does not parse (InvalidInput).</summary>
    public void CheckPayload(byte[] payload, CollectionSchema schema, string what)
    {
        if (payload.Length > options.MaxPayloadBytes)
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"{what} is {payload.Length} bytes, the limit is {options.MaxPayloadBytes}");
        if (schema.Payload == PayloadKind.Json && !IsJson(payload))
            Guard.ThrowInvalid($"{what} is not valid JSON (collection '{schema.Name}' stores JSON payloads)");
    }

    private static bool IsJson(byte[] payload)
    {
        try
        {
            using var _ = JsonDocument.Parse(payload);
            return true;
        }
        catch (JsonException) { return false; }
    }
}
