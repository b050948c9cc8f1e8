using Grpc.Core;
using Retrieval.Index.Errors;
using Retrieval.Query.Engine;

namespace Retrieval.Service.Interceptors;

/// <summary>
/// One gRPC status per error class: InvalidInput -> INVALID_ARGUMENT (ALREADY_EXISTS for <see cref="AlreadyExistsException"/>),
/// NotFound -> NOT_FOUND, ResourceExhausted -> RESOURCE_EXHAUSTED, Incompatible -> FAILED_PRECONDITION,
/// Corrupt -> DATA_LOSS, Internal -> INTERNAL. A disposed engine (shutting down) is UNAVAILABLE; a streamed
/// message that is not valid protobuf is INVALID_ARGUMENT.
/// </summary>
public static class StatusMapping
{
    public static StatusCode ToStatusCode(RetrievalException e) => e switch
    {
        AlreadyExistsException => StatusCode.AlreadyExists,
        _ => e.Kind switch
        {
            ErrorKind.InvalidInput => StatusCode.InvalidArgument,
            ErrorKind.NotFound => StatusCode.NotFound,
            ErrorKind.ResourceExhausted => StatusCode.ResourceExhausted,
            ErrorKind.Incompatible => StatusCode.FailedPrecondition,
            ErrorKind.Corrupt => StatusCode.DataLoss,
            _ => StatusCode.Internal,
        },
    };

    /// <summary>The RpcException to send for an exception escaping a handler; unexpected ones get a generic message (details go to the log).</summary>
    public static RpcException ToRpcException(Exception e) => e switch
    {
        RpcException rpc => rpc,
        RetrievalException r => new RpcException(new Status(ToStatusCode(r), r.Message)),
        ObjectDisposedException => new RpcException(new Status(StatusCode.Unavailable, "the server is shutting down")),
        // A streamed message that is not valid protobuf surfaces inside the handler (MoveNext deserializes it).
        Google.Protobuf.InvalidProtocolBufferException p => new RpcException(new Status(StatusCode.InvalidArgument, $"a request message is not valid protobuf: {p.Message}")),
        OperationCanceledException => new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled")),
        _ => new RpcException(new Status(StatusCode.Internal, "internal error; the server log has the details")),
    };
}
