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

    private RetrievalServer(WebApplication app, RetrievalEngine engine, int port, IPAddress address)
    {
        _app = app;
        _engine = engine;
        Port = port;
        Address = new Uri($"http://{(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString())}:{port}");
    }

    /// <summary>The port actually bound (useful with port 0).</summary>
    public int Port { get; }
    /// <summary>http://ADDRESS:PORT, what clients dial.</summary>
    public Uri Address { get; }
    public RetrievalEngine Engine => _engine;

    /// <summary>Opens the engine and starts listening. Throws InvalidInput for a bad/unsafe bind, Corrupt for damaged data.</summary>
    public static async Task<RetrievalServer> StartAsync(ServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Limits.Validate();
        var address = options.ResolveBindAddress();
        var engine = RetrievalEngine.Open(options.DataDirectory, options.Engine);
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(options.LogLevel);
            builder.Logging.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ");
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Listen(address, options.Port, listen => listen.Protocols = HttpProtocols.Http2);
                kestrel.Limits.Http2.MaxStreamsPerConnection = 256;
            });
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
            builder.Services.AddSingleton(engine);
            builder.Services.AddSingleton(options);
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
            app.MapGrpcService<CollectionsService>();
            app.MapGrpcService<PointsService>();
            app.MapGrpcService<SearchService>();
            app.MapGrpcService<KvCacheService>();
            app.MapGrpcHealthChecksService();
            app.MapGrpcReflectionService();
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                await app.DisposeAsync().ConfigureAwait(false);
                throw new RetrievalException(ErrorKind.InvalidInput, $"cannot listen on {options.Bind}:{options.Port}: {e.Message}");
            }
            int port = BoundPort(app, options.Port);
            return new RetrievalServer(app, engine, port, address);
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

    private static int BoundPort(WebApplication app, int requested)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses is not null)
        {
            foreach (var a in addresses)
            {
                if (Uri.TryCreate(a, UriKind.Absolute, out var uri)) return uri.Port;
            }
        }
        return requested;
    }
}
