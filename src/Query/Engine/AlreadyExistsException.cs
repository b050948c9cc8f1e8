using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// Creating something that already exists (a collection name). Classified as InvalidInput for callers that only
/// know <see cref="ErrorKind"/>; the service maps this type to ALREADY_EXISTS.
/// </summary>
public sealed class AlreadyExistsException(string message) : RetrievalException(ErrorKind.InvalidInput, message);
