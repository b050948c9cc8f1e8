using System.CommandLine;
using System.Runtime;
using Retrieval.Bench.Benchmarks;
using Retrieval.Bench.Evaluation;
using Retrieval.Bench.Inputs;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;

namespace Retrieval.Cli.Commands;

/// <summary>
/// `retrieval bench exact`: exact dense search throughput against the machine's measured memory bandwidth,
/// the physical bound of a scan that streams every base vector per query.
/// </summary>
public static class BenchExactCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = CommonOptions.Dataset(" A dense set with base vectors, queries and ground truth.");
        dataset.Required = true;
        var queriesLimit = new Option<int?>("--queries-limit")
        {
            Description = "Use only the first N queries for the batched lines (default: all).",
            HelpName = "N",
        };
        var singleQueries = new Option<int>("--single-queries")
        {
            Description = "Queries timed one at a time on one thread (each one scans the whole base).",
            HelpName = "N",
            DefaultValueFactory = _ => ExactDenseBenchmarkOptions.DefaultSingleQueryCount,
        };
        var bandwidthMiB = new Option<int>("--bandwidth-mib")
        {
            Description = "Size of the buffer read to measure memory bandwidth, MiB (far larger than the caches).",
            HelpName = "MIB",
            DefaultValueFactory = _ => (int)(MemoryBandwidth.DefaultBytes >> 20),
        };
        var k = CommonOptions.K(10);
        var threads = CommonOptions.Threads(0, "Threads of the all-threads line.");
        var command = new Command("exact",
            "Measure memory bandwidth (a large sequential read, 1 thread and all threads), then exact dense search: one " +
            "thread one query at a time, one thread batched, all threads batched. Each search line gives recall, latency, QPS, " +
            "resident memory, base_bytes_per_second (bytes of base vectors scored per second) and bandwidth_fraction (that " +
            "rate over the bandwidth measured with the same thread count).")
        {
            dataset, queriesLimit, singleQueries, bandwidthMiB, k, threads,
        };
        host.Examples(command,
            "retrieval bench exact --dataset minilm-passages --queries-limit 1000",
            "retrieval bench exact --dataset datasets/fixtures/tiny-dense --bandwidth-mib 64 --json");
        command.SetAction(parse =>
        {
            var progress = host.Progress(parse);
            var results = host.Results(parse);
            int neighbours = parse.GetValue(k);
            Guard.ValidK(neighbours);
            var inputs = SearchInputs.FromDataset(parse.GetRequiredValue(dataset)!, loadBase: true,
                maxQueries: parse.GetValue(queriesLimit), progress: progress);
            if (inputs.DenseBase is null || inputs.Queries.Dense is null)
                throw new RetrievalException(ErrorKind.Incompatible, $"bench exact needs a dense dataset; {inputs.Description} is sparse");
            var metric = inputs.ResolveMetric(null);
            var options = new ExactDenseBenchmarkOptions
            {
                K = neighbours,
                Threads = parse.GetValue(threads),
                SingleQueryCount = parse.GetValue(singleQueries),
                BandwidthBufferBytes = (long)parse.GetValue(bandwidthMiB) << 20,
            };
            var report = ExactDenseBenchmark.Run(inputs.DenseBase, inputs.Queries.Dense, metric, options,
                new LogProgress(progress));

            // The benchmark times search only; recall is a property of exact search's answers, the same on every
            // line, so it is computed once over the benchmark's queries from a batched run.
            double? recall = null;
            if (inputs.GroundTruthFor(inputs.Queries, metric) is { } truth)
            {
                progress.Log("computing recall of exact search against the dataset's ground truth");
                using var exact = inputs.CreateExactIndex(metric);
                var found = exact.SearchBatch(inputs.Queries, neighbours, exact.DefaultParameters, options.Threads);
                truth.CheckCovers(found.QueryCount, neighbours);
                recall = NeighborRecall.TieAwareRecallAtK(found, truth.IdsOfFirst(found.QueryCount), truth.Columns, neighbours,
                    truth.Metric ?? metric, truth.ExactScorer!).Mean;
            }

            foreach (var bandwidth in (ReadOnlySpan<MemoryBandwidthResult>)[report.SingleThreadBandwidth, report.AllThreadsBandwidth])
            {
                results.Add(new ReportLine(
                [
                    new("measurement", "memory_bandwidth"),
                    new("threads", bandwidth.Threads),
                    new("bytes_per_second", bandwidth.BytesPerSecond),
                    new("buffer_bytes", bandwidth.BufferBytes),
                    new("repetitions", bandwidth.Repetitions),
                ]));
            }
            results.Flush("memory bandwidth (sequential read):");
            // The 1 GiB bandwidth buffer is garbage by now; collect it so resident memory is the search's own.
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            long resident = ProcessMemory.ResidentBytes();
            foreach (var run in report.Runs)
            {
                results.Add(new SearchReport
                {
                    Index = "exact",
                    Queries = run.Queries,
                    K = run.K,
                    RecallAtK = recall,
                    MeanUs = run.MeanUs,
                    P50Us = run.P50Us,
                    P95Us = run.P95Us,
                    P99Us = run.P99Us,
                    Qps = run.Qps,
                    Threads = run.Threads,
                    ResidentBytes = resident,
                    Details =
                    [
                        new("mode", run.Mode),
                        new("base_bytes", run.BaseBytes),
                        new("base_bytes_per_second", run.EffectiveBytesPerSecond),
                        new("bandwidth_bytes_per_second", run.BandwidthBytesPerSecond),
                        new("bandwidth_fraction", run.EffectiveFractionOfBandwidth),
                        new("streamed_bytes_per_second", run.PhysicalBytesPerSecond),
                        new("streamed_bandwidth_fraction", run.PhysicalFractionOfBandwidth),
                    ],
                });
            }
            results.Flush($"exact search over {report.Count:N0} x {report.Dimension} {report.ElementType} ({report.Metric}):");
            return ExitCodes.Success;
        });
        return command;
    }
}
