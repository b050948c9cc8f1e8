using System.Diagnostics;
using Grpc.Core;
using Retrieval.Index.Errors;
using Retrieval.Service.Client;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Bench.Campaigns;

/// <summary>Crash test settings. Vectors are a deterministic function of (seed, id), so nothing but ids is remembered.</summary>
public sealed record CrashTestOptions
{
    /// <summary>How to start `retrieval` (see <see cref="ServerProcess.SelfLauncher"/>). Required.</summary>
    public required IReadOnlyList<string> Launcher { get; init; }
    public required string DataDirectory { get; init; }
    /// <summary>Kill points: each iteration starts the server, verifies, writes, and SIGKILLs it at a random moment.</summary>
    public int Iterations { get; init; } = 100;
    /// <summary>Concurrent writers streaming upserts while the kill comes.</summary>
    public int Writers { get; init; } = 4;
    /// <summary>Records per upsert call (one log entry: all or nothing).</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>The kill comes after a random delay in [0, MaxKillDelay).</summary>
    public TimeSpan MaxKillDelay { get; init; } = TimeSpan.FromMilliseconds(600);
    /// <summary>Background checkpoint period passed to the server (so kills also land during checkpoints).</summary>
    public int CheckpointSeconds { get; init; } = 1;
    /// <summary>Acknowledged records searched for by their own vector after each restart.</summary>
    public int SearchSamples { get; init; } = 20;
    public int Seed { get; init; } = 1;
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>What a crash test saw.</summary>
public sealed record CrashTestResult(int KillPoints, int Recoveries, int FailedRecoveries, long AcknowledgedRecords,
    long LostAcknowledged, long HalfAppliedBatches, long UnacknowledgedApplied, long UnacknowledgedAbsent, long SearchChecks,
    long SearchFailures, double Seconds, IReadOnlyList<string> Problems)
{
    public bool Passed => FailedRecoveries == 0 && LostAcknowledged == 0 && HalfAppliedBatches == 0 && SearchFailures == 0 && Problems.Count == 0;
}

/// <summary>
/// Starts the real server as a child process, streams upserts from several writers, SIGKILLs it at random points,
/// restarts it and checks that every acknowledged record is present with its exact vector and is found by search,
/// and that every batch whose acknowledgement was lost is either wholly present or wholly absent.
/// </summary>
public static class CrashTest
{
    private const string Collection = "crash";
    private const int Dimension = 16;

    public static async Task<CrashTestResult> RunAsync(CrashTestOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var random = new Random(options.Seed);
        var acked = new List<long>();          // first id of each acknowledged batch
        var pending = new List<long>();        // batches in flight when a kill came
        var problems = new List<string>();
        long nextBatch = 0, lost = 0, half = 0, unackedApplied = 0, unackedAbsent = 0, searchChecks = 0, searchFailures = 0;
        int recoveries = 0, failedRecoveries = 0;
        bool created = false;

        for (int iteration = 0; iteration <= options.Iterations; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ServerProcess server;
            try
            {
                server = await ServerProcess.StartAsync(options.Launcher, options.DataDirectory, ["--checkpoint-seconds", options.CheckpointSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                    options.StartTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RetrievalException or TimeoutException)
            {
                failedRecoveries++;
                problems.Add($"iteration {iteration}: server did not start: {e.Message}");
                break;
            }
            using (server)
            using (var client = new RetrievalClient(server.Address.ToString()))
            {
                if (iteration > 0) recoveries++;
                if (!created)
                {
                    await client.CreateAsync(new V1.CollectionSchema
                    {
                        Name = Collection,
                        KeyKind = V1.KeyKind.Integer,
                        Dense = new V1.DenseField { Dimension = Dimension, Metric = V1.Metric.L2 },
                    }, cancellationToken).ConfigureAwait(false);
                    created = true;
                }

                // Verify what the previous kill left.
                var (missing, present) = await CountPresent(client, acked, options.BatchSize, options.Seed, cancellationToken).ConfigureAwait(false);
                lost += missing;
                if (missing > 0) problems.Add($"iteration {iteration}: {missing} acknowledged records missing or wrong");
                foreach (var first in pending)
                {
                    var (m, p) = await CountPresent(client, [first], options.BatchSize, options.Seed, cancellationToken).ConfigureAwait(false);
                    if (p == options.BatchSize) { unackedApplied++; acked.Add(first); }
                    else if (p == 0) unackedAbsent++;
                    else { half++; problems.Add($"iteration {iteration}: batch at id {first} is half applied ({p} of {options.BatchSize})"); }
                }
                pending.Clear();
                for (int s = 0; s < Math.Min(options.SearchSamples, acked.Count); s++)
                {
                    long id = acked[random.Next(acked.Count)] + random.Next(options.BatchSize);
                    var query = new V1.Query { K = 1, Mode = V1.SearchMode.Dense };
                    query.Vector.Add(VectorOf(options.Seed, id));
                    var hits = await client.SearchAsync(Collection, query, cancellationToken).ConfigureAwait(false);
                    searchChecks++;
                    if (hits.Hits.Count == 0 || hits.Hits[0].Id.Number != id || hits.Hits[0].Score != 0)
                    {
                        searchFailures++;
                        problems.Add($"iteration {iteration}: search for record {id}'s own vector did not return it first");
                    }
                }
                progress?.Report($"iteration {iteration}: {acked.Count * (long)options.BatchSize} acknowledged records verified, {lost} lost, {half} half-applied");
                if (iteration == options.Iterations) break;

                // Write from several writers until the kill.
                using var stop = new CancellationTokenSource();
                var inFlight = new HashSet<long>();
                var writers = new Task[options.Writers];
                for (int w = 0; w < writers.Length; w++)
                {
                    writers[w] = Task.Run(async () =>
                    {
                        while (!stop.IsCancellationRequested)
                        {
                            long first;
                            lock (inFlight)
                            {
                                first = nextBatch++ * options.BatchSize;
                                inFlight.Add(first);
                            }
                            var request = new V1.UpsertRequest { Collection = Collection };
                            for (int i = 0; i < options.BatchSize; i++)
                            {
                                var r = new V1.Record { Id = new V1.RecordId { Number = first + i } };
                                r.Vector.Add(VectorOf(options.Seed, first + i));
                                request.Records.Add(r);
                            }
                            try
                            {
                                await client.UpsertAsync(request, CancellationToken.None).ConfigureAwait(false);
                            }
                            catch (RpcException)
                            {
                                return; // the server died mid-call: this batch stays in flight (unknown outcome)
                            }
                            lock (inFlight)
                            {
                                inFlight.Remove(first);
                                acked.Add(first);
                            }
                        }
                    });
                }
                await Task.Delay(TimeSpan.FromMilliseconds(random.NextDouble() * options.MaxKillDelay.TotalMilliseconds), cancellationToken).ConfigureAwait(false);
                server.Kill();
                stop.Cancel();
                await Task.WhenAll(writers).ConfigureAwait(false);
                lock (inFlight) pending.AddRange(inFlight);
            }
        }
        return new CrashTestResult(options.Iterations, recoveries, failedRecoveries, acked.Count * (long)options.BatchSize, lost, half,
            unackedApplied, unackedAbsent, searchChecks, searchFailures, clock.Elapsed.TotalSeconds, problems);
    }

    /// <summary>(missing or wrong, present) records over the batches starting at <paramref name="firsts"/>.</summary>
    private static async Task<(long Missing, long Present)> CountPresent(RetrievalClient client, List<long> firsts, int batchSize, int seed, CancellationToken ct)
    {
        long missing = 0, present = 0;
        const int idsPerCall = 512;
        var request = new V1.GetRequest { Collection = Collection, WithVectors = true, WithoutPayload = true };
        async Task Flush()
        {
            if (request.Ids.Count == 0) return;
            var response = await client.GetAsync(request, ct).ConfigureAwait(false);
            foreach (var result in response.Results)
            {
                if (!result.Found) { missing++; continue; }
                present++;
                var expected = VectorOf(seed, result.Id.Number);
                if (!result.Record.Vector.SequenceEqual(expected)) missing++;
            }
            request.Ids.Clear();
        }
        foreach (var first in firsts)
        {
            for (int i = 0; i < batchSize; i++)
            {
                request.Ids.Add(new V1.RecordId { Number = first + i });
                if (request.Ids.Count == idsPerCall) await Flush().ConfigureAwait(false);
            }
        }
        await Flush().ConfigureAwait(false);
        return (missing, present);
    }

    private static float[] VectorOf(int seed, long id)
    {
        var random = new Random(HashCode.Combine(seed, id));
        var v = new float[Dimension];
        for (int i = 0; i < v.Length; i++) v[i] = (float)random.NextDouble();
        return v;
    }
}
