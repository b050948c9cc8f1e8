using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Retrieval.Index.Errors;
using Retrieval.Query.Engine;
using Retrieval.Service.Interceptors;
using Retrieval.Service.Services;

namespace Retrieval.Service.Hosting;

/// <summary>
/// The retrieval.v1 gRPC server: an <see cref="RetrievalEngine"/> on a data directory behind Kestrel, plain-text
/// HTTP/2 (gRPC without TLS needs HTTP/2 only on the endpoint), loopback unless an API key is set, with gRPC health
/// checking (grpc.health.v1) and server reflection. <see cref="DisposeAsync"/> stops accepting calls, lets running
/// calls finish, then closes the engine, which checkpoints and flushes its log.
/// </summary>
public sealed class RetrievalServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RetrievalEngine _engine;
    private int _disposed;

    private RetrievalServer(WebApplication app, RetrievalEngine engine, int port, int? metricsPort, IPAddress address)
    {
        _app = app;
        _engine = engine;
        Port = port;
        string host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        Address = new Uri($"http://{host}:{port}");
        if (metricsPort is int m) MetricsAddress = new Uri($"http://{host}:{m}/metrics");
        Metrics = app.Services.GetRequiredService<ServerMetrics>();
    }

    /// <summary>The port actually bound (useful with port 0).</summary>
    public int Port { get; }
    /// <summary>http://ADDRESS:PORT, what clients dial.</summary>
    public Uri Address { get; }
    public RetrievalEngine Engine => _engine;
    /// <summary>http://ADDRESS:PORT/metrics (Prometheus text format) when <see cref="ServerOptions.MetricsPort"/> is set, else null.</summary>
    public Uri? MetricsAddress { get; }
    /// <summary>This server's request metrics.</summary>
    public ServerMetrics Metrics { get; }

    /// <summary>Opens the engine and starts listening. Throws InvalidInput for a bad/unsafe bind, Corrupt for damaged data.</summary>
    public static async Task<RetrievalServer> StartAsync(ServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Limits.Validate();
        var address = options.ResolveBindAddress();
        // The engine opens before the host's logging exists; its warnings go to stderr until the logger is there.
        ILogger? engineLogger = null;
        var engineOptions = options.Engine.Log is not null ? options.Engine : options.Engine with
        {
            Log = message =>
            {
                if (Volatile.Read(ref engineLogger) is { } logger) logger.LogWarning("{Message}", message);
                else Console.Error.WriteLine($"warning: {message}");
            },
        };
        var engine = RetrievalEngine.Open(options.DataDirectory, engineOptions);
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(options.LogLevel);
            builder.Logging.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ");
            // ASP.NET Core and gRPC log every request at Information/Debug ("Request starting", "Executing
            // endpoint"...): a JSON line or two per call is real cost under load, and the interceptor already logs
            // failures and counts every call. Their warnings and errors still come through.
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Logging.AddFilter("Grpc", LogLevel.Warning);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Listen(address, options.Port, listen => listen.Protocols = HttpProtocols.Http2);
                if (options.MetricsPort is int metricsPort) kestrel.Listen(address, metricsPort, listen => listen.Protocols = HttpProtocols.Http1);
                kestrel.Limits.Http2.MaxStreamsPerConnection = 256;
            });
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
            builder.Services.AddSingleton(engine);
            builder.Services.AddSingleton(options);
            builder.Services.AddSingleton<ServerMetrics>();
            builder.Services.AddSingleton(new Retrieval.Query.Attention.KvCache(
                new Retrieval.Query.Attention.KvCacheOptions { MemoryLimitBytes = options.Limits.KvMemoryLimitBytes }));
            builder.Services.AddGrpc(grpc =>
            {
                grpc.MaxReceiveMessageSize = options.Limits.MaxMessageBytes;
                grpc.MaxSendMessageSize = options.Limits.MaxMessageBytes;
                grpc.EnableDetailedErrors = false;
                grpc.Interceptors.Add<ServerInterceptor>();
            });
            builder.Services.AddGrpcHealthChecks().AddCheck("engine", () => HealthCheckResult.Healthy());
            builder.Services.AddGrpcReflection();

            var app = builder.Build();
            Volatile.Write(ref engineLogger, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Retrieval.Engine"));
            if (options.Engine.MemoryLimitBytes > 0)
                engineLogger!.LogInformation("memory limit {LimitMiB} MiB: writes are refused above {RefusePercent}% resident", options.Engine.MemoryLimitBytes >> 20, 90);
            app.MapGrpcService<CollectionsService>();
            app.MapGrpcService<PointsService>();
            app.MapGrpcService<SearchService>();
            app.MapGrpcService<KvCacheService>();
            app.MapGrpcHealthChecksService();
            app.MapGrpcReflectionService();
            if (options.MetricsPort is not null) app.MapGet("/metrics", (Microsoft.AspNetCore.Http.HttpContext http, ServerMetrics metrics) => ServeMetrics(http, metrics, options));
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                await app.DisposeAsync().ConfigureAwait(false);
                throw new RetrievalException(ErrorKind.InvalidInput, $"cannot listen on {options.Bind}:{options.Port}: {e.Message}");
            }
            var (port, metricsBound) = BoundPorts(app, options.Port, options.MetricsPort);
            return new RetrievalServer(app, engine, port, metricsBound, address);
        }
        catch
        {
            await engine.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Completes when the host is asked to stop (Ctrl+C, SIGTERM, or <see cref="DisposeAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            await _app.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            await _engine.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The gRPC and metrics ports actually bound: Kestrel lists endpoints in the order they were configured.</summary>
    private static (int Grpc, int? Metrics) BoundPorts(WebApplication app, int grpc, int? metrics)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var ports = new List<int>();
        if (addresses is not null)
            foreach (var a in addresses)
                if (Uri.TryCreate(a, UriKind.Absolute, out var uri)) ports.Add(uri.Port);
        int boundGrpc = ports.Count > 0 ? ports[0] : grpc;
        int? boundMetrics = metrics is null ? null : ports.Count > 1 ? ports[1] : metrics;
        return (boundGrpc, boundMetrics);
    }

    private static Microsoft.AspNetCore.Http.IResult ServeMetrics(Microsoft.AspNetCore.Http.HttpContext http, ServerMetrics metrics, ServerOptions options)
    {
        var headers = http.Request.Headers;
        if (!ServerInterceptor.HasKey(options.ApiKey, headers[ServerInterceptor.ApiKeyHeader].FirstOrDefault(), headers.Authorization.FirstOrDefault()))
            return Microsoft.AspNetCore.Http.Results.Text("this server needs an API key: send 'x-api-key: KEY' or 'authorization: Bearer KEY'\n", statusCode: 401);
        return Microsoft.AspNetCore.Http.Results.Text(metrics.ToPrometheusText(), "text/plain; version=0.0.4; charset=utf-8");
    }
}
