using System.Diagnostics;
using Grpc.Core;
using Retrieval.Bench.Evaluation;
using Retrieval.Index.Errors;
using Retrieval.Service.Client;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Bench.Campaigns;

/// <summary>Load test settings: a bounded run (clients x seconds) against a loopback server.</summary>
public sealed record LoadTestOptions
{
    public required Uri Server { get; init; }
    public string? ApiKey { get; init; }
    /// <summary>Collection to create (or reuse if it has the same shape) and preload.</summary>
    public string Collection { get; init; } = "loadtest";
    public int Clients { get; init; } = 32;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Percent of operations that are searches; the rest are single-record upserts (overwrites of existing ids).</summary>
    public int SearchPercent { get; init; } = 90;
    public int Dimension { get; init; } = 64;
    /// <summary>Records loaded before the timed run.</summary>
    public int Records { get; init; } = 20_000;
    public int K { get; init; } = 10;
    /// <summary>
    /// When > 0, this many of the clients only upsert and the rest only search (<see cref="SearchPercent"/> is then
    /// ignored): searchers are not held up by the writers' commit latency (an fsync each), so search QPS compares
    /// with the in-process figure while writes run. 0 (default): every client draws from the mix.
    /// </summary>
    public int UpsertClients { get; init; }
    /// <summary>Records per preload upsert (at most the server's max_batch).</summary>
    public int PreloadBatch { get; init; } = 500;
    public int Seed { get; init; } = 7;
    /// <summary>Reads the server's resident memory (bytes), or null when it cannot be observed.</summary>
    public Func<long>? ServerMemory { get; init; }

    public void Validate()
    {
        if (!Server.IsLoopback) Guard.ThrowInvalid($"the load test only targets loopback servers; {Server} is not loopback");
        if (Clients < 1 || Clients > 1024) Guard.ThrowInvalid($"clients must be in [1, 1024], got {Clients}");
        if (Duration <= TimeSpan.Zero || Duration > TimeSpan.FromHours(1)) Guard.ThrowInvalid($"duration must be in (0, 1 h], got {Duration}");
        if (SearchPercent < 0 || SearchPercent > 100) Guard.ThrowInvalid($"search percent must be in [0, 100], got {SearchPercent}");
        if (Records < 1) Guard.ThrowInvalid($"records must be >= 1, got {Records}");
        if (UpsertClients < 0 || UpsertClients >= Clients) Guard.ThrowInvalid($"upsert clients must be in [0, clients), got {UpsertClients} of {Clients}");
        if (PreloadBatch < 1) Guard.ThrowInvalid($"preload batch must be >= 1, got {PreloadBatch}");
    }
}

/// <summary>
/// A load test's figures. Server memory is sampled once a second: at the start of the timed run, at
/// <see cref="ServerMemoryEarlySeconds"/> (minute 1, or 10% into runs shorter than 2 minutes — after warm-up, the
/// baseline of the "flat memory" target) and at the end; -1 where unknown.
/// </summary>
public sealed record LoadTestResult(long Searches, long Upserts, long Errors, double Seconds, double SearchQps, double UpsertQps,
    LatencyStats SearchLatency, LatencyStats UpsertLatency, long ServerMemoryStart, long ServerMemoryEnd, IReadOnlyList<string> ErrorSamples)
{
    public long ServerMemoryEarly { get; init; } = -1;
    public double ServerMemoryEarlySeconds { get; init; }
    public long ServerMemoryPeak { get; init; } = -1;

    /// <summary>(end - early) / early, the growth the 10%-flat target bounds; NaN when memory was not observed.</summary>
    public double ServerMemoryGrowth => ServerMemoryEarly > 0 && ServerMemoryEnd > 0 ? (ServerMemoryEnd - ServerMemoryEarly) / (double)ServerMemoryEarly : double.NaN;
}

/// <summary>Many concurrent clients (each its own channel) issuing a search/upsert mix for a fixed time.</summary>
public static class LoadTest
{
    public static async Task<LoadTestResult> RunAsync(LoadTestOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        using var setup = new RetrievalClient(options.Server.ToString(), options.ApiKey);
        try
        {
            await setup.CreateAsync(new V1.CollectionSchema
            {
                Name = options.Collection,
                KeyKind = V1.KeyKind.Integer,
                Dense = new V1.DenseField { Dimension = (uint)options.Dimension, Metric = V1.Metric.InnerProduct },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists) { }

        var random = new Random(options.Seed);
        progress?.Report($"loading {options.Records} records of {options.Dimension} dims");
        for (int start = 0; start < options.Records; start += options.PreloadBatch)
        {
            var request = new V1.UpsertRequest { Collection = options.Collection };
            for (int i = start; i < Math.Min(options.Records, start + options.PreloadBatch); i++) request.Records.Add(RandomRecord(random, i, options.Dimension));
            await setup.UpsertAsync(request, cancellationToken).ConfigureAwait(false);
        }
        long memoryStart = options.ServerMemory?.Invoke() ?? -1;
        progress?.Report($"running {options.Clients} clients for {options.Duration.TotalSeconds:F0} s");

        var searchTicks = new List<long>[options.Clients];
        var upsertTicks = new List<long>[options.Clients];
        long errors = 0;
        var samples = new List<string>();
        var clock = Stopwatch.StartNew();
        double earlyAt = options.Duration >= TimeSpan.FromMinutes(2) ? 60 : options.Duration.TotalSeconds / 10;
        long early = -1, peak = memoryStart;
        double earlySeconds = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = options.ServerMemory is null ? Task.CompletedTask : Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                try { await Task.Delay(1000, sampling.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                long rss = options.ServerMemory();
                peak = Math.Max(peak, rss);
                if (early < 0 && clock.Elapsed.TotalSeconds >= earlyAt)
                {
                    early = rss;
                    earlySeconds = clock.Elapsed.TotalSeconds;
                }
            }
        }, CancellationToken.None);
        var tasks = new Task[options.Clients];
        for (int c = 0; c < options.Clients; c++)
        {
            int client = c;
            searchTicks[c] = new List<long>(1 << 16);
            upsertTicks[c] = new List<long>(1 << 12);
            tasks[c] = Task.Run(async () =>
            {
                using var connection = new RetrievalClient(options.Server.ToString(), options.ApiKey);
                var r = new Random(options.Seed * 1000 + client);
                while (clock.Elapsed < options.Duration && !cancellationToken.IsCancellationRequested)
                {
                    bool search = options.UpsertClients > 0 ? client >= options.UpsertClients : r.Next(100) < options.SearchPercent;
                    long t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        if (search)
                        {
                            var query = new V1.Query { K = (uint)options.K, Mode = V1.SearchMode.Dense };
                            for (int d = 0; d < options.Dimension; d++) query.Vector.Add((float)r.NextDouble() - 0.5f);
                            await connection.SearchAsync(options.Collection, query, cancellationToken).ConfigureAwait(false);
                            searchTicks[client].Add(Stopwatch.GetTimestamp() - t0);
                        }
                        else
                        {
                            var request = new V1.UpsertRequest { Collection = options.Collection };
                            request.Records.Add(RandomRecord(r, r.Next(options.Records), options.Dimension));
                            await connection.UpsertAsync(request, cancellationToken).ConfigureAwait(false);
                            upsertTicks[client].Add(Stopwatch.GetTimestamp() - t0);
                        }
                    }
                    catch (RpcException e)
                    {
                        Interlocked.Increment(ref errors);
                        lock (samples) if (samples.Count < 5) samples.Add($"{e.StatusCode}: {e.Status.Detail}");
                    }
                }
            }, cancellationToken);
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        await sampling.CancelAsync().ConfigureAwait(false);
        await sampler.ConfigureAwait(false);
        long memoryEnd = options.ServerMemory?.Invoke() ?? -1;
        var allSearch = Flatten(searchTicks);
        var allUpsert = Flatten(upsertTicks);
        return new LoadTestResult(allSearch.Length, allUpsert.Length, errors, seconds,
            allSearch.Length / seconds, allUpsert.Length / seconds,
            Stats(allSearch), Stats(allUpsert), memoryStart, memoryEnd, samples)
        {
            ServerMemoryEarly = early,
            ServerMemoryEarlySeconds = earlySeconds,
            ServerMemoryPeak = Math.Max(peak, memoryEnd),
        };
    }

    /// <summary>
    /// The same collection (same preloaded records, seed, dims, k) in an embedded engine in this process: search
    /// throughput with all cores (queries spread by Parallel.For) and single-query latency on one thread. What the
    /// gRPC figures are compared against.
    /// </summary>
    public static async Task<(double BatchQps, LatencyStats SingleQuery)> InProcessReferenceAsync(LoadTestOptions options, int queries = 4000)
    {
        var directory = Path.Combine(Path.GetTempPath(), "retrieval-loadtest-ref-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await using var engine = Query.Engine.RetrievalEngine.Open(directory,
                Query.Engine.EngineOptions.Default with { CheckpointInterval = TimeSpan.Zero, CheckpointOnClose = false });
            await engine.CreateCollectionAsync(new Query.Engine.CollectionSchema(options.Collection, Query.Engine.KeyKind.Integer,
                new Query.Engine.DenseFieldSchema(options.Dimension, Index.Vectors.Metric.InnerProduct))).ConfigureAwait(false);
            var random = new Random(options.Seed);
            for (int start = 0; start < options.Records; start += 500)
            {
                var batch = new List<Query.Engine.EngineRecord>();
                for (int i = start; i < Math.Min(options.Records, start + 500); i++)
                {
                    var r = RandomRecord(random, i, options.Dimension);
                    batch.Add(new Query.Engine.EngineRecord(Query.Engine.RecordKey.Of(i), [.. r.Vector]));
                }
                await engine.UpsertAsync(options.Collection, batch).ConfigureAwait(false);
            }
            var requests = new Query.Engine.SearchRequest[queries];
            var q = new Random(options.Seed + 1);
            for (int i = 0; i < queries; i++)
            {
                var v = new float[options.Dimension];
                for (int d = 0; d < v.Length; d++) v[d] = (float)q.NextDouble() - 0.5f;
                requests[i] = new Query.Engine.SearchRequest { Vector = v, K = options.K, Mode = Query.Engine.SearchMode.Dense };
            }
            for (int i = 0; i < Math.Min(200, queries); i++) engine.Search(options.Collection, requests[i]); // warm-up
            var clock = Stopwatch.StartNew();
            Parallel.For(0, queries, i => engine.Search(options.Collection, requests[i]));
            double batchQps = queries / clock.Elapsed.TotalSeconds;
            int singles = Math.Min(1000, queries);
            var ticks = new long[singles];
            for (int i = 0; i < singles; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                engine.Search(options.Collection, requests[i]);
                ticks[i] = Stopwatch.GetTimestamp() - t0;
            }
            return (batchQps, LatencyStats.FromStopwatchTicks(ticks));
        }
        finally
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }

    private static LatencyStats Stats(long[] ticks) => ticks.Length == 0 ? default : LatencyStats.FromStopwatchTicks(ticks);

    private static long[] Flatten(List<long>[] lists)
    {
        int n = 0;
        foreach (var l in lists) n += l.Count;
        var all = new long[n];
        int at = 0;
        foreach (var l in lists)
        {
            l.CopyTo(all, at);
            at += l.Count;
        }
        return all;
    }

    private static V1.Record RandomRecord(Random random, long id, int dimension)
    {
        var record = new V1.Record { Id = new V1.RecordId { Number = id } };
        for (int d = 0; d < dimension; d++) record.Vector.Add((float)random.NextDouble() - 0.5f);
        return record;
    }
}
