using System.CommandLine;
using System.Diagnostics;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Bench.Benchmarks.Spann;
using Retrieval.Bench.Datasets;
using Retrieval.Query.Indexes;
using Retrieval.Query.Indexes.Spann;
using Retrieval.Bench.Reporting;
using Retrieval.Bench.Inputs;

namespace Retrieval.Cli.Commands;

/// <summary>
/// `retrieval bench spann`: SPANN (in memory and O_DIRECT, swept over M) side by side with exact search, an
/// IVF-Flat baseline (same kernels, swept over nprobe) and USearch HNSW (swept over ef), one thread, one run.
/// </summary>
public static class BenchSpannCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = CommonOptions.Dataset(" A dense set with base vectors, queries and ground truth.");
        dataset.Required = true;
        var indexDir = new Option<string?>("--index") { Description = "SPANN index directory to use; built there first if it holds none (default: a folder under the temp directory).", HelpName = "DIR" };
        var rebuild = new Option<bool>("--rebuild") { Description = "Build the SPANN index even if --index already holds one." };
        var storage = new Option<string?>("--storage") { Description = "SPANN posting storage when building: f32, f16 or i8 (default: f16 for float16 and uint8 data, exact for both and twice the rows per page of f32; else f32)." };
        var headRatio = new Option<double>("--head-ratio") { DefaultValueFactory = _ => SpannBuildOptions.DefaultHeadRatio, Description = "SPANN heads as a fraction of N when building." };
        var replicas = new Option<int>("--replicas") { DefaultValueFactory = _ => SpannBuildOptions.DefaultReplicaCount, Description = "SPANN replica cap R when building." };
        var eps1 = new Option<double>("--eps1") { DefaultValueFactory = _ => SpannBuildOptions.DefaultClosureEpsilon, Description = "SPANN closure epsilon when building." };
        var pages = new Option<int>("--posting-pages") { DefaultValueFactory = _ => SpannBuildOptions.DefaultPostingPages, Description = "SPANN posting cap in pages when building." };
        var queriesLimit = new Option<int>("--queries-limit") { DefaultValueFactory = _ => 1000, Description = "Queries timed per line (first N).", HelpName = "N" };
        var heads = new Option<string>("--heads") { DefaultValueFactory = _ => "4,8,16,32,48,64,96", Description = "SPANN M values swept (comma separated)." };
        var beams = new Option<string>("--beam") { DefaultValueFactory = _ => "0", Description = "SPANN navigation beams swept at every M (comma separated; 0 = tied to M)." };
        var eps2 = new Option<double>("--eps2") { DefaultValueFactory = _ => SpannSearchParameters.DefaultPruneEpsilon, Description = "SPANN query-aware pruning epsilon." };
        var nprobe = new Option<string>("--nprobe") { DefaultValueFactory = _ => "4,8,16,32,64,128", Description = "IVF-Flat probes swept." };
        var ivfLists = new Option<int?>("--ivf-lists") { Description = "IVF-Flat list count (default 4 sqrt(N))." };
        var ef = new Option<string>("--ef") { DefaultValueFactory = _ => "16,32,64,128", Description = "USearch HNSW expansions swept." };
        var skip = new Option<string>("--skip") { DefaultValueFactory = _ => "", Description = "Comma-separated peers to leave out: exact, ivf, usearch, memory, direct." };
        var k = CommonOptions.K(10);
        var command = new Command("spann",
            "SPANN benchmark: exact, IVF-Flat, USearch HNSW, SPANN in-memory and SPANN --direct-io (swept over M), one thread per query; " +
            "recall@k, latency, QPS, resident memory (process and index), bytes on disk, reads and bytes per query, build time and peak memory.")
        {
            dataset, indexDir, rebuild, storage, headRatio, replicas, eps1, pages, queriesLimit, heads, beams, eps2, nprobe, ivfLists, ef, skip, k,
        };
        host.Examples(command,
            "retrieval bench spann --dataset minilm-passages --index /tmp/spann-minilm",
            "retrieval bench spann --dataset datasets/fixtures/tiny-dense --heads 4,8,16 --nprobe 2,4 --ef 16,32");
        command.SetAction(parse =>
        {
            var progress = host.Progress(parse);
            var results = host.Results(parse);
            int neighbours = parse.GetValue(k);
            Guard.ValidK(neighbours);
            var skipped = new HashSet<string>(parse.GetValue(skip)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
            var manifest = DatasetLocator.Open(parse.GetRequiredValue(dataset)!);
            if (manifest.Base is null) throw new RetrievalException(ErrorKind.Incompatible, $"dataset '{manifest.Name}' has no base vectors");
            var metric = manifest.Metric ?? Metric.L2;

            // SPANN first, in a process that has loaded nothing else, so its peak memory is the build's own.
            var dir = parse.GetValue(indexDir) ?? Path.Combine(Path.GetTempPath(), "retrieval-bench-spann-" + manifest.Name);
            double? spannBuildSeconds = null;
            long? spannPeak = null;
            if (parse.GetValue(rebuild) || !File.Exists(Path.Combine(dir, SpannFormat.ManifestFile)))
            {
                var info = Retrieval.Index.Formats.DenseVectorFile.ReadHeader(manifest.Base.Path);
                var store = parse.GetValue(storage) is { } s ? SpannStorageExtensions.ParseStorage(s)
                    : info.ElementType is ElementType.Float16 or ElementType.UInt8 ? SpannStorage.Float16 : SpannStorage.Float32;
                var options = new SpannBuildOptions
                {
                    Metric = metric, Storage = store, HeadRatio = parse.GetValue(headRatio), ReplicaCount = parse.GetValue(replicas),
                    ClosureEpsilon = parse.GetValue(eps1), PostingPages = parse.GetValue(pages),
                };
                progress.Log($"building SPANN index in {dir}");
                var built = SpannBuilder.Build(manifest.Base.Path, dir, options, progress.Log);
                spannBuildSeconds = built.TotalSeconds;
                spannPeak = ProcessMemory.PeakResidentBytes();
                results.Add(SpannReports.Build(built, spannPeak));
                results.Flush("spann build:");
            }
            else progress.Log($"using the SPANN index in {dir} (build time and peak memory are reported by `retrieval build spann`)");

            var inputs = SearchInputs.FromDataset(manifest.Directory, loadBase: true, maxQueries: parse.GetValue(queriesLimit), progress: progress);
            var queries = inputs.Queries;
            var run = new SearchRun(neighbours, 1, inputs.GroundTruthFor(queries, metric), progress);

            if (!skipped.Contains("exact"))
            {
                using var exact = inputs.CreateExactIndex(metric);
                results.Add(run.Measure(exact, queries, exact.DefaultSettings) with
                {
                    Details = [new("index_resident_bytes", exact.BaseBytes)],
                });
                results.Flush("exact:");
            }

            if (!skipped.Contains("ivf"))
            {
                int lists = parse.GetValue(ivfLists) ?? (int)Math.Round(4 * Math.Sqrt(inputs.DenseBase!.Count));
                var clock = Stopwatch.StartNew();
                progress.Log($"building IVF-Flat with {lists} lists");
                using var ivf = IvfFlatIndex.Build(inputs.DenseBase!, metric, lists, trainRows: 64 * lists, threads: 0);
                double seconds = clock.Elapsed.TotalSeconds;
                foreach (int p in ParseList(parse.GetValue(nprobe)!, "--nprobe"))
                    results.Add(run.Measure(ivf, queries, new IvfSettings(p)) with
                    {
                        Details = [new("build_seconds", seconds), new("index_resident_bytes", ivf.ResidentBytes), new("lists", lists)],
                    });
                results.Flush("ivf-flat (in memory):");
            }

            if (!skipped.Contains("usearch"))
            {
                var clock = Stopwatch.StartNew();
                progress.Log("building USearch HNSW (M 16, ef_add 128, float16, one thread)");
                using var hnsw = UsearchPeer.Build(inputs.DenseBase!, metric);
                double seconds = clock.Elapsed.TotalSeconds;
                foreach (int e in ParseList(parse.GetValue(ef)!, "--ef"))
                    results.Add(run.Measure(hnsw, queries, new UsearchSettings(e)) with
                    {
                        Details = [new("build_seconds", seconds), new("index_resident_bytes", hnsw.ResidentBytes)],
                    });
                results.Flush("usearch hnsw (in memory):");
            }

            using var spann = SpannSearchIndex.Open(dir);
            var sweep = ParseList(parse.GetValue(heads)!, "--heads");
            var beamSweep = ParseList(parse.GetValue(beams)!, "--beam", allowZero: true);
            // Direct first: its resident figure must not include the postings the in-memory mode loads.
            foreach (var mode in new[] { PostingIoMode.Direct, PostingIoMode.Memory })
            {
                if (skipped.Contains(mode == PostingIoMode.Direct ? "direct" : "memory")) continue;
                spann.Index.Prepare(mode);
                foreach (int m in sweep)
                foreach (int beam in beamSweep)
                {
                    var settings = new SpannSettings(spann.Defaults with { Heads = m, Io = mode, PruneEpsilon = parse.GetValue(eps2), SearchBeamWidth = beam });
                    spann.Index.ResetProfile();
                    var report = run.Measure(spann, queries, settings);
                    var (headTime, postingTime, _) = spann.Index.Profile;
                    double share = headTime.TotalSeconds / Math.Max(1e-12, headTime.TotalSeconds + postingTime.TotalSeconds);
                    double searches = Math.Max(1, spann.Index.Profile.Searches);
                    results.Add(report with
                    {
                        Details =
                        [
                            new("build_seconds", spannBuildSeconds),
                            new("peak_build_rss_bytes", spannPeak),
                            new("index_resident_bytes", spann.Index.ResidentBytes),
                            new("head_selection_share", share),
                            new("head_selection_us", headTime.TotalMicroseconds / searches),
                            new("posting_scan_us", postingTime.TotalMicroseconds / searches),
                            new("head_evals_per_query", spann.Index.HeadEvaluations / searches),
                        ],
                    });
                }
                results.Flush(mode == PostingIoMode.Direct ? "spann --direct-io:" : "spann in memory:");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static int[] ParseList(string text, string option, bool allowZero = false)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out values[i]) || values[i] < (allowZero ? 0 : 1))
                throw new UsageException($"{option} expects comma-separated positive integers, got '{text}'");
        return values;
    }
}
