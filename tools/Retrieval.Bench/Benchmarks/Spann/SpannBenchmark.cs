using System.Diagnostics;
using Retrieval.Bench.Datasets;
using Retrieval.Bench.Inputs;
using Retrieval.Bench.Reporting;
using Retrieval.Index.Errors;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Query.Indexes;
using Retrieval.Query.Indexes.Spann;

namespace Retrieval.Bench.Benchmarks.Spann;

/// <summary>
/// `bench spann`: SPANN (O_DIRECT and in memory, swept over M) side by side with exact search, an IVF-Flat baseline
/// (same kernels, swept over nprobe) and USearch HNSW (swept over ef), one thread per query, one run. Each group of
/// result lines goes to <c>emit</c> with its title as soon as it is measured, so a long run shows progress.
/// </summary>
public static class SpannBenchmark
{
    public static void Run(SpannBenchmarkOptions options, Action<string, IReadOnlyList<IReport>> emit, ProgressReporter progress)
    {
        Guard.ValidK(options.K);
        var skipped = options.Skip;
        var manifest = DatasetLocator.Open(options.Dataset);
        if (manifest.Base is null) throw new RetrievalException(ErrorKind.Incompatible, $"dataset '{manifest.Name}' has no base vectors");
        var metric = manifest.Metric ?? Metric.L2;
        emit("defaults:", [DefaultsLine.Create("spann",
            new("storage", "follows the input: f16 for float16/uint8, i8 for int8, f32 for float32"),
            new("head_ratio", SpannBuildOptions.DefaultHeadRatio), new("replica_count", SpannBuildOptions.DefaultReplicaCount),
            new("eps1", SpannBuildOptions.DefaultClosureEpsilon), new("posting_pages", SpannBuildOptions.DefaultPostingPages),
            new("heads", SpannSearchParameters.DefaultHeads), new("eps2", SpannSearchParameters.DefaultPruneEpsilon),
            new("beam", "M + max(4, M/4)"))]);

        // SPANN first, in a process that has loaded nothing else, so its peak memory is the build's own.
        var dir = options.IndexDirectory ?? Path.Combine(Path.GetTempPath(), "retrieval-bench-spann-" + manifest.Name);
        double? spannBuildSeconds = null;
        long? spannPeak = null;
        if (options.Rebuild || !File.Exists(Path.Combine(dir, SpannFormat.ManifestFile)))
        {
            var build = new SpannBuildOptions
            {
                Metric = metric,
                Storage = options.Storage, // null: the library's default for the input's precision
                HeadRatio = options.HeadRatio,
                ReplicaCount = options.ReplicaCount,
                ClosureEpsilon = options.ClosureEpsilon,
                PostingPages = options.PostingPages,
            };
            progress.Log($"building SPANN index in {dir}");
            var built = SpannBuilder.Build(manifest.Base.Path, dir, build, progress.Log);
            spannBuildSeconds = built.TotalSeconds;
            spannPeak = ProcessMemory.PeakResidentBytes();
            emit("spann build:", [SpannReports.Build(built, spannPeak)]);
        }
        else progress.Log($"using the SPANN index in {dir} (build time and peak memory are reported by `retrieval build spann`)");

        var inputs = SearchInputs.FromDataset(manifest.Directory, loadBase: true, maxQueries: options.MaxQueries, progress: progress);
        var queries = inputs.Queries;
        var run = new SearchRun(options.K, 1, inputs.GroundTruthFor(queries, metric), progress);

        // index_structure_bytes: the accounted size of each index's in-memory structures (not measured); the measured
        // resident growth, index_resident_bytes, only exists for the SPANN lines (the one index opened, not built, here).
        if (!skipped.Contains("exact"))
        {
            using var exact = inputs.CreateExactIndex(metric);
            emit("exact:", [run.Measure(exact, queries, exact.DefaultParameters) with { Details = [new("index_structure_bytes", exact.BaseBytes)] }]);
        }

        if (!skipped.Contains("ivf"))
        {
            int lists = options.IvfLists ?? (int)Math.Round(4 * Math.Sqrt(inputs.DenseBase!.Count));
            var clock = Stopwatch.StartNew();
            progress.Log($"building IVF-Flat with {lists} lists");
            using var ivf = IvfFlatIndex.Build(inputs.DenseBase!, metric, lists, trainRows: 64 * lists, threads: 0);
            double seconds = clock.Elapsed.TotalSeconds;
            var lines = new List<IReport>();
            foreach (int p in options.Probes)
                lines.Add(run.Measure(ivf, queries, new IvfParameters(p)) with
                {
                    Details = [new("build_seconds", seconds), new("index_structure_bytes", ivf.ResidentBytes), new("lists", lists)],
                });
            emit("ivf-flat (in memory):", lines);
        }

        if (!skipped.Contains("usearch"))
        {
            var clock = Stopwatch.StartNew();
            progress.Log("building USearch HNSW (M 16, ef_add 128, float16, one thread)");
            using var hnsw = UsearchPeer.Build(inputs.DenseBase!, metric);
            double seconds = clock.Elapsed.TotalSeconds;
            var lines = new List<IReport>();
            foreach (int e in options.Expansions)
                lines.Add(run.Measure(hnsw, queries, new UsearchParameters(e)) with
                {
                    Details = [new("build_seconds", seconds), new("index_structure_bytes", hnsw.ResidentBytes)],
                });
            emit("usearch hnsw (in memory):", lines);
        }

        long beforeOpen = ProcessMemory.ResidentBeforeOpen();
        using var spann = SpannSearchIndex.Open(dir);
        // Direct first: its resident figure must not include the postings the in-memory mode loads.
        foreach (var mode in new[] { PostingIoMode.Direct, PostingIoMode.Memory })
        {
            if (skipped.Contains(mode == PostingIoMode.Direct ? "direct" : "memory")) continue;
            spann.Index.Prepare(mode);
            var lines = new List<IReport>();
            foreach (int m in options.Heads)
                foreach (int beam in options.Beams)
                {
                    var settings = new SpannIndexParameters(spann.Defaults with { Heads = m, Io = mode, PruneEpsilon = options.PruneEpsilon, SearchBeamWidth = beam });
                    spann.Index.ResetProfile();
                    var report = run.Measure(spann, queries, settings, beforeOpen);
                    var (headTime, postingTime, _) = spann.Index.Profile;
                    double share = headTime.TotalSeconds / Math.Max(1e-12, headTime.TotalSeconds + postingTime.TotalSeconds);
                    double searches = Math.Max(1, spann.Index.Profile.Searches);
                    lines.Add(report with
                    {
                        Details =
                        [
                            new("build_seconds", spannBuildSeconds),
                        new("peak_build_rss_bytes", spannPeak),
                        new("index_structure_bytes", spann.Index.ResidentBytes),
                        new("head_selection_share", share),
                        new("head_selection_us", headTime.TotalMicroseconds / searches),
                        new("posting_scan_us", postingTime.TotalMicroseconds / searches),
                        new("head_evals_per_query", spann.Index.HeadEvaluations / searches),
                    ],
                    });
                }
            emit(mode == PostingIoMode.Direct ? "spann --direct-io:" : "spann in memory:", lines);
        }
    }
}
