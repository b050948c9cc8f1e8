using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Retrieval.Service.Hosting;

/// <summary>
/// Request metrics of one server. Every call is recorded twice: on the <see cref="MeterName"/> meter (counter
/// <c>retrieval.server.requests</c>, histogram <c>retrieval.server.request.duration</c> in seconds, tagged
/// rpc.method and rpc.grpc.status_code — what dotnet-counters and OpenTelemetry exporters read) and in this
/// object's own fixed-bucket aggregates, which <see cref="WritePrometheus"/> renders in the Prometheus text
/// format for the server's /metrics endpoint. The meter comes from the host's <see cref="IMeterFactory"/>, so two
/// servers in one process keep separate figures.
/// </summary>
public sealed class ServerMetrics : IDisposable
{
    public const string MeterName = "Retrieval.Service";

    /// <summary>Upper bounds (seconds) of the latency buckets: 100 µs to 10 s, roughly 1-2.5-5 per decade.</summary>
    public static readonly double[] BucketBounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly ConcurrentDictionary<(string Method, int Status), Series> _series = new();
    private readonly long _started = Stopwatch.GetTimestamp();

    public ServerMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);
        _requests = _meter.CreateCounter<long>("retrieval.server.requests", description: "gRPC calls handled");
        _duration = _meter.CreateHistogram<double>("retrieval.server.request.duration", unit: "s", description: "gRPC call duration");
    }

    private sealed class Series
    {
        public long Count;
        public long SumNanoseconds;
        public readonly long[] Buckets = new long[BucketBounds.Length];
    }

    /// <summary>Records one finished call (thread-safe, allocation-free once the method/status pair has been seen).</summary>
    public void Record(string method, int status, double seconds)
    {
        var tags = new TagList { { "rpc.method", method }, { "rpc.grpc.status_code", status } };
        _requests.Add(1, tags);
        _duration.Record(seconds, tags);
        var series = _series.GetOrAdd((method, status), static _ => new Series());
        Interlocked.Increment(ref series.Count);
        Interlocked.Add(ref series.SumNanoseconds, (long)(seconds * 1e9));
        int bucket = Array.BinarySearch(BucketBounds, seconds);
        if (bucket < 0) bucket = ~bucket;
        if (bucket < BucketBounds.Length) Interlocked.Increment(ref series.Buckets[bucket]);
    }

    /// <summary>Calls recorded for <paramref name="method"/> (full gRPC path) with any status.</summary>
    public long Count(string method)
    {
        long n = 0;
        foreach (var (key, series) in _series) if (key.Method == method) n += Interlocked.Read(ref series.Count);
        return n;
    }

    /// <summary>
    /// The Prometheus text exposition (version 0.0.4): request counter and cumulative latency histogram per
    /// method and status, plus process memory, GC and uptime gauges.
    /// </summary>
    public void WritePrometheus(TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        var keys = _series.Keys.ToArray();
        Array.Sort(keys, static (a, b) => a.Method != b.Method ? string.CompareOrdinal(a.Method, b.Method) : a.Status.CompareTo(b.Status));

        output.Write("# HELP retrieval_server_requests_total gRPC calls handled.\n# TYPE retrieval_server_requests_total counter\n");
        foreach (var key in keys)
            output.Write(string.Create(c, $"retrieval_server_requests_total{{{Labels(key)}}} {Interlocked.Read(ref _series[key].Count)}\n"));

        output.Write("# HELP retrieval_server_request_duration_seconds gRPC call duration.\n# TYPE retrieval_server_request_duration_seconds histogram\n");
        foreach (var key in keys)
        {
            var s = _series[key];
            string labels = Labels(key);
            long cumulative = 0;
            for (int b = 0; b < BucketBounds.Length; b++)
            {
                cumulative += Interlocked.Read(ref s.Buckets[b]);
                output.Write(string.Create(c, $"retrieval_server_request_duration_seconds_bucket{{{labels},le=\"{BucketBounds[b]}\"}} {cumulative}\n"));
            }
            long count = Interlocked.Read(ref s.Count);
            output.Write(string.Create(c, $"retrieval_server_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\n"));
            output.Write(string.Create(c, $"retrieval_server_request_duration_seconds_sum{{{labels}}} {Interlocked.Read(ref s.SumNanoseconds) / 1e9}\n"));
            output.Write(string.Create(c, $"retrieval_server_request_duration_seconds_count{{{labels}}} {count}\n"));
        }

        using var process = Process.GetCurrentProcess();
        output.Write("# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n");
        output.Write(string.Create(c, $"process_resident_memory_bytes {process.WorkingSet64}\n"));
        output.Write("# HELP dotnet_gc_heap_bytes Bytes in the managed heap.\n# TYPE dotnet_gc_heap_bytes gauge\n");
        output.Write(string.Create(c, $"dotnet_gc_heap_bytes {GC.GetTotalMemory(false)}\n"));
        output.Write("# HELP dotnet_gc_collections_total Garbage collections by generation.\n# TYPE dotnet_gc_collections_total counter\n");
        for (int g = 0; g <= GC.MaxGeneration; g++) output.Write(string.Create(c, $"dotnet_gc_collections_total{{generation=\"{g}\"}} {GC.CollectionCount(g)}\n"));
        output.Write("# HELP retrieval_server_uptime_seconds Seconds since the server started.\n# TYPE retrieval_server_uptime_seconds gauge\n");
        output.Write(string.Create(c, $"retrieval_server_uptime_seconds {Stopwatch.GetElapsedTime(_started).TotalSeconds:F3}\n"));
    }

    public string ToPrometheusText()
    {
        using var writer = new StringWriter(new StringBuilder(4096), CultureInfo.InvariantCulture);
        WritePrometheus(writer);
        return writer.ToString();
    }

    private static string Labels((string Method, int Status) key) =>
        $"rpc_method=\"{Escape(key.Method)}\",rpc_grpc_status_code=\"{key.Status.ToString(CultureInfo.InvariantCulture)}\"";

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public void Dispose() => _meter.Dispose();
}
