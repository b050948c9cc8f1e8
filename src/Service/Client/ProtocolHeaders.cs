namespace Retrieval.Service.Client;

/// <summary>Request metadata names of the retrieval.v1 protocol, shared by the server and every client.</summary>
public static class ProtocolHeaders
{
    /// <summary>Metadata key carrying the API key (the server also accepts `authorization: Bearer KEY`).</summary>
    public const string ApiKey = "x-api-key";
}
