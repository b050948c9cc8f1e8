using System.Diagnostics.Metrics;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Retrieval.Service.Hosting;
using Retrieval.Service.Protocol;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Service;

/// <summary>Request metrics: the Prometheus /metrics endpoint and the "Retrieval.Service" meter that dotnet-counters reads.</summary>
public sealed class ServerMetricsTests
{
    private static async Task<RetrievalServer> Start(string? apiKey = null) =>
        await RetrievalServer.StartAsync(ServerFixture.Options(TestData.TempDirectory(), apiKey) with { MetricsPort = 0 });

    [Fact]
    public async Task MetricsEndpointCountsCallsByMethodAndStatusWithAHistogram()
    {
        await using var server = await Start();
        Assert.NotNull(server.MetricsAddress);
        Assert.NotEqual(server.Port, server.MetricsAddress!.Port);
        using var channel = GrpcChannel.ForAddress(server.Address);
        var collections = new Collections.CollectionsClient(channel);
        await collections.CreateCollectionAsync(new CreateCollectionRequest
        {
            Schema = new CollectionSchema { Name = "m", Dense = new DenseField { Dimension = 2, Metric = Metric.L2 } },
        });
        for (int i = 0; i < 3; i++) await collections.DescribeCollectionAsync(new DescribeCollectionRequest { Name = "m" });
        await Assert.ThrowsAsync<RpcException>(async () => await collections.DescribeCollectionAsync(new DescribeCollectionRequest { Name = "nope" }));

        using var http = new HttpClient();
        var response = await http.GetAsync(server.MetricsAddress);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString());
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n');

        const string describe = "rpc_method=\"/retrieval.v1.Collections/DescribeCollection\"";
        Assert.Contains($"retrieval_server_requests_total{{{describe},rpc_grpc_status_code=\"0\"}} 3", lines);
        Assert.Contains($"retrieval_server_requests_total{{{describe},rpc_grpc_status_code=\"5\"}} 1", lines); // NOT_FOUND
        Assert.Contains($"retrieval_server_request_duration_seconds_bucket{{{describe},rpc_grpc_status_code=\"0\",le=\"+Inf\"}} 3", lines);
        Assert.Contains($"retrieval_server_request_duration_seconds_count{{{describe},rpc_grpc_status_code=\"0\"}} 3", lines);
        Assert.Contains("# TYPE retrieval_server_request_duration_seconds histogram", lines);
        // Buckets are cumulative and end at the count.
        var buckets = lines.Where(l => l.StartsWith($"retrieval_server_request_duration_seconds_bucket{{{describe},rpc_grpc_status_code=\"0\"", StringComparison.Ordinal))
            .Select(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..])).ToList();
        Assert.Equal(ServerMetrics.BucketBounds.Length + 1, buckets.Count);
        Assert.Equal(buckets.OrderBy(b => b), buckets);
        Assert.Contains(lines, l => l.StartsWith("process_resident_memory_bytes ", StringComparison.Ordinal));
        Assert.Equal(4, server.Metrics.Count("/retrieval.v1.Collections/DescribeCollection"));
    }

    [Fact]
    public async Task MetricsEndpointNeedsTheApiKeyWhenTheServerHasOne()
    {
        await using var server = await Start(apiKey: "metrics-key-123");
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(server.MetricsAddress)).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, server.MetricsAddress);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "metrics-key-123");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task CallsAreMeasuredOnTheRetrievalServiceMeter()
    {
        await using var server = await Start();
        var seen = new List<(string Instrument, string Method, double Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ServerMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
        {
            string method = "";
            foreach (var tag in tags) if (tag.Key == "rpc.method") method = (string)tag.Value!;
            lock (seen) seen.Add((instrument.Name, method, value));
        }
        listener.SetMeasurementEventCallback<double>(OnMeasurement);
        listener.SetMeasurementEventCallback<long>((i, v, t, s) => OnMeasurement(i, v, t, s));
        listener.Start();

        using var channel = GrpcChannel.ForAddress(server.Address);
        await new Collections.CollectionsClient(channel).ListCollectionsAsync(new ListCollectionsRequest());

        lock (seen)
        {
            Assert.Contains(seen, m => m.Instrument == "retrieval.server.requests" && m.Method == "/retrieval.v1.Collections/ListCollections" && m.Value == 1);
            Assert.Contains(seen, m => m.Instrument == "retrieval.server.request.duration" && m.Method == "/retrieval.v1.Collections/ListCollections" && m.Value > 0);
        }
    }
}
