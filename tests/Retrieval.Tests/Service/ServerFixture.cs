using Grpc.Core;
using Grpc.Net.Client;
using Retrieval.Service.Hosting;
using Retrieval.Service.Protocol;
using Retrieval.Tests.Engine;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Service;

/// <summary>A real server on a free loopback port over a temporary data directory, and clients for it.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public static readonly ServiceLimits TestLimits = new()
    {
        MaxK = 50,
        MaxBatch = 20,
        MaxDimension = 64,
        MaxMessageBytes = 64 * 1024,
    };

    private RetrievalServer? _server;

    public string DataDirectory { get; } = TestData.TempDirectory();
    public string? ApiKey { get; init; }
    public RetrievalServer Server => _server ?? throw new InvalidOperationException("not started");
    public GrpcChannel Channel { get; private set; } = null!;

    public static ServerOptions Options(string dataDirectory, string? apiKey = null) => new()
    {
        DataDirectory = dataDirectory,
        Port = 0,
        ApiKey = apiKey,
        Limits = TestLimits,
        Engine = EngineTestSupport.Small(),
        LogLevel = Microsoft.Extensions.Logging.LogLevel.None,
    };

    public async Task InitializeAsync()
    {
        _server = await RetrievalServer.StartAsync(Options(DataDirectory, ApiKey));
        Channel = GrpcChannel.ForAddress(_server.Address);
    }

    public async Task DisposeAsync()
    {
        Channel?.Dispose();
        if (_server is not null) await _server.DisposeAsync();
    }

    public Collections.CollectionsClient Collections => new(Channel);
    public Points.PointsClient Points => new(Channel);
    public Retrieval.Service.Protocol.Search.SearchClient Search => new(Channel);

    /// <summary>Runs the call and returns the RpcException it must throw.</summary>
    public static async Task<RpcException> Status(Func<Task> call)
    {
        return await Assert.ThrowsAsync<RpcException>(call);
    }
}
