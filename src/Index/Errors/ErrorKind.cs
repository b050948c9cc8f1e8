namespace Retrieval.Index.Errors;

/// <summary>
/// Every error the engine raises belongs to one class; the service maps each class to one gRPC status
/// (InvalidInput -> INVALID_ARGUMENT, NotFound -> NOT_FOUND, Incompatible -> FAILED_PRECONDITION,
/// Corrupt -> DATA_LOSS, ResourceExhausted -> RESOURCE_EXHAUSTED, Internal -> INTERNAL).
/// </summary>
public enum ErrorKind
{
    /// <summary>The caller passed something malformed: wrong dimension, NaN, k out of range, bad option.</summary>
    InvalidInput,
    /// <summary>A named thing (file, dataset, id, collection) does not exist.</summary>
    NotFound,
    /// <summary>Well-formed but not usable here: another format version, element type or metric.</summary>
    Incompatible,
    /// <summary>A file is truncated, fails its checksum, or holds values its header rules out.</summary>
    Corrupt,
    /// <summary>A configured limit (k, batch, memory) would be exceeded.</summary>
    ResourceExhausted,
    /// <summary>A bug: an invariant of the engine itself failed.</summary>
    Internal,
}
