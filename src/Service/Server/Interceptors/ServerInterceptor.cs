using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using Retrieval.Service.Client;
using Retrieval.Service.Hosting;

namespace Retrieval.Service.Interceptors;

/// <summary>
/// Runs around every call: checks the API key (when the server has one), maps exceptions to statuses
/// (<see cref="StatusMapping"/>), logs failures, and records request metrics in <see cref="ServerMetrics"/>
/// (the "Retrieval.Service" meter for dotnet-counters / OpenTelemetry, and the /metrics Prometheus endpoint).
/// </summary>
public sealed class ServerInterceptor : Interceptor
{
    public const string MeterName = ServerMetrics.MeterName;
    public const string ApiKeyHeader = ProtocolHeaders.ApiKey;

    private readonly byte[]? _apiKey;
    private readonly ILogger<ServerInterceptor> _logger;
    private readonly ServerMetrics _metrics;

    public ServerInterceptor(ServerOptions options, ILogger<ServerInterceptor> logger, ServerMetrics metrics)
    {
        _apiKey = string.IsNullOrEmpty(options.ApiKey) ? null : Encoding.UTF8.GetBytes(options.ApiKey);
        _logger = logger;
        _metrics = metrics;
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

    private void Record(string method, StatusCode status, long start) =>
        _metrics.Record(method, (int)status, Stopwatch.GetElapsedTime(start).TotalSeconds);

    /// <summary>True when the request carries the server's API key (or the server has none); for the /metrics endpoint.</summary>
    internal static bool HasKey(string? configured, string? apiKeyHeader, string? authorization)
    {
        if (string.IsNullOrEmpty(configured)) return true;
        string? presented = apiKeyHeader;
        if (presented is null && authorization is not null && authorization.StartsWith("Bearer ", StringComparison.Ordinal)) presented = authorization[7..];
        return presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(configured));
    }
}
