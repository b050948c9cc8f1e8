using System.Net;
using Microsoft.Extensions.Logging;
using Retrieval.Index.Errors;
using Retrieval.Query.Engine;

namespace Retrieval.Service.Hosting;

/// <summary>How <see cref="RetrievalServer"/> runs: data directory, address, API key, limits, engine sizes.</summary>
public sealed record ServerOptions
{
    public const int DefaultPort = 50051;
    public const string DefaultBind = "127.0.0.1";

    /// <summary>The engine's data directory (created if missing). Required.</summary>
    public required string DataDirectory { get; init; }
    /// <summary>TCP port; 0 picks a free one (see <see cref="RetrievalServer.Port"/>). Default 50051.</summary>
    public int Port { get; init; } = DefaultPort;
    /// <summary>Address to bind: an IP address or "localhost". Default 127.0.0.1.</summary>
    public string Bind { get; init; } = DefaultBind;
    /// <summary>
    /// When set, every call must carry it as metadata "x-api-key: KEY" or "authorization: Bearer KEY". Required to
    /// bind a non-loopback address (the server speaks plain-text HTTP/2: put TLS in front of it on open networks).
    /// </summary>
    public string? ApiKey { get; init; }
    public ServiceLimits Limits { get; init; } = ServiceLimits.Default;
    /// <summary>
    /// When set, also listen (HTTP/1.1, same bind address) on this port for GET /metrics in the Prometheus text
    /// format; 0 picks a free port (see <see cref="RetrievalServer.MetricsAddress"/>). With an API key the scrape
    /// must carry it too. Default: off.
    /// </summary>
    public int? MetricsPort { get; init; }
    public EngineOptions Engine { get; init; } = EngineOptions.Default;
    /// <summary>Least severe log level written (default Information; logs go to the console as JSON lines).</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>The address to listen on; throws InvalidInput for a malformed address or a non-loopback one without an API key.</summary>
    internal IPAddress ResolveBindAddress()
    {
        if (Port < 0 || Port > 65535) Guard.ThrowInvalid($"port must be in [0, 65535], got {Port}");
        if (MetricsPort is < 0 or > 65535) Guard.ThrowInvalid($"metrics port must be in [0, 65535], got {MetricsPort}");
        if (MetricsPort is > 0 && MetricsPort == Port) Guard.ThrowInvalid($"the metrics port must differ from the gRPC port {Port}");
        IPAddress address;
        if (string.Equals(Bind, "localhost", StringComparison.OrdinalIgnoreCase)) address = IPAddress.Loopback;
        else if (!IPAddress.TryParse(Bind, out address!)) Guard.ThrowInvalid($"bind address '{Bind}' is not an IP address (or 'localhost')");
        if (!IPAddress.IsLoopback(address) && string.IsNullOrEmpty(ApiKey))
            Guard.ThrowInvalid($"refusing to bind non-loopback address {Bind} without an API key (--api-key): the server would be open to the network");
        if (ApiKey is not null && ApiKey.Length < 8) Guard.ThrowInvalid("the API key must be at least 8 characters");
        return address;
    }
}
