using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using Retrieval.Service.Hosting;

namespace Retrieval.Service.Interceptors;

/// <summary>
/// Runs around every call: checks the API key (when the server has one), maps exceptions to statuses
/// (<see cref="StatusMapping"/>), logs failures, and records request metrics on the "Retrieval.Service" meter:
/// counter <c>retrieval.server.requests</c> and histogram <c>retrieval.server.request.duration</c> (seconds), both
/// tagged with rpc.method and rpc.grpc.status_code (read them with dotnet-counters or an OpenTelemetry exporter).
/// </summary>
public sealed class ServerInterceptor : Interceptor
{
    public const string MeterName = "Retrieval.Service";
    public const string ApiKeyHeader = "x-api-key";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_requests = s_meter.CreateCounter<long>("retrieval.server.requests", description: "gRPC calls handled");
    private static readonly Histogram<double> s_duration = s_meter.CreateHistogram<double>("retrieval.server.request.duration", unit: "s",
        description: "gRPC call duration");

    private readonly byte[]? _apiKey;
    private readonly ILogger<ServerInterceptor> _logger;

    public ServerInterceptor(ServerOptions options, ILogger<ServerInterceptor> logger)
    {
        _apiKey = string.IsNullOrEmpty(options.ApiKey) ? null : Encoding.UTF8.GetBytes(options.ApiKey);
        _logger = logger;
    }

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            Authorize(context);
            var response = await continuation(request, context).ConfigureAwait(false);
            Record(context.Method, StatusCode.OK, start);
            return response;
        }
        catch (Exception e)
        {
            throw Fail(e, context.Method, start);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            Authorize(context);
            var response = await continuation(requestStream, context).ConfigureAwait(false);
            Record(context.Method, StatusCode.OK, start);
            return response;
        }
        catch (Exception e)
        {
            throw Fail(e, context.Method, start);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            Authorize(context);
            await continuation(request, responseStream, context).ConfigureAwait(false);
            Record(context.Method, StatusCode.OK, start);
        }
        catch (Exception e)
        {
            throw Fail(e, context.Method, start);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            Authorize(context);
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
            Record(context.Method, StatusCode.OK, start);
        }
        catch (Exception e)
        {
            throw Fail(e, context.Method, start);
        }
    }

    private void Authorize(ServerCallContext context)
    {
        if (_apiKey is null) return;
        string? presented = context.RequestHeaders.GetValue(ApiKeyHeader);
        if (presented is null)
        {
            var authorization = context.RequestHeaders.GetValue("authorization");
            if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.Ordinal)) presented = authorization[7..];
        }
        if (presented is null)
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"this server needs an API key: send metadata '{ApiKeyHeader}: KEY' or 'authorization: Bearer KEY'"));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _apiKey))
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the API key is not valid"));
    }

    private RpcException Fail(Exception e, string method, long start)
    {
        var rpc = StatusMapping.ToRpcException(e);
        Record(method, rpc.StatusCode, start);
        if (rpc.StatusCode is StatusCode.Internal or StatusCode.DataLoss or StatusCode.Unknown)
            _logger.LogError(e, "{Method} failed with {Status}: {Message}", method, rpc.StatusCode, e.Message);
        else
            _logger.LogDebug("{Method} refused with {Status}: {Detail}", method, rpc.StatusCode, rpc.Status.Detail);
        return rpc;
    }

    private static void Record(string method, StatusCode status, long start)
    {
        var tags = new TagList { { "rpc.method", method }, { "rpc.grpc.status_code", (int)status } };
        s_requests.Add(1, tags);
        s_duration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, tags);
    }
}
