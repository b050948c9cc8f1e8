using System.CommandLine;
using Retrieval.Bench.Benchmarks.Spann;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Spann;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval bench spann`: parses the options of <see cref="SpannBenchmark"/> and prints its result lines.</summary>
public static class BenchSpannCommand
{
    public static Command Create(CliHost host)
    {
        var dataset = CommonOptions.Dataset(" A dense set with base vectors, queries and ground truth.");
        dataset.Required = true;
        var indexDir = new Option<string?>("--index") { Description = "SPANN index directory to use; built there first if it holds none (default: a folder under the temp directory).", HelpName = "DIR" };
        var rebuild = new Option<bool>("--rebuild") { Description = "Build the SPANN index even if --index already holds one." };
        var storage = new Option<string?>("--storage") { Description = "SPANN posting storage when building: f32, f16 or i8 (default: the library's rule, the smallest storage exact for the input: float16 and uint8 -> f16, int8 -> i8, float32 -> f32)." };
        var headRatio = new Option<double>("--head-ratio") { DefaultValueFactory = _ => SpannBuildOptions.DefaultHeadRatio, Description = "SPANN heads as a fraction of N when building." };
        var replicas = new Option<int>("--replicas") { DefaultValueFactory = _ => SpannBuildOptions.DefaultReplicaCount, Description = "SPANN replica cap R when building." };
        var eps1 = new Option<double>("--eps1") { DefaultValueFactory = _ => SpannBuildOptions.DefaultClosureEpsilon, Description = "SPANN closure epsilon when building." };
        var pages = new Option<int>("--posting-pages") { DefaultValueFactory = _ => SpannBuildOptions.DefaultPostingPages, Description = "SPANN posting cap in pages when building." };
        var queriesLimit = new Option<int>("--queries-limit") { DefaultValueFactory = _ => 1000, Description = "Queries timed per line (first N).", HelpName = "N" };
        var heads = ListOptions.Ints("--heads", [4, 8, 16, 32, 48, 64, 96], "SPANN M values swept.");
        var beams = ListOptions.Ints("--beam", [0], "SPANN navigation beams swept at every M (0 = tied to M).", minimum: 0);
        var eps2 = new Option<double>("--eps2") { DefaultValueFactory = _ => SpannSearchParameters.DefaultPruneEpsilon, Description = "SPANN query-aware pruning epsilon." };
        var nprobe = ListOptions.Ints("--nprobe", [4, 8, 16, 32, 64, 128], "IVF-Flat probes swept.");
        var ivfLists = new Option<int?>("--ivf-lists") { Description = "IVF-Flat list count (default 4 sqrt(N))." };
        var ef = ListOptions.Ints("--ef", [16, 32, 64, 128], "USearch HNSW expansions swept.");
        var skip = ListOptions.Strings("--skip", [], "Peers to leave out: exact, ivf, usearch, memory, direct.", helpName: "PART,PART,...");
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
            var options = new SpannBenchmarkOptions
            {
                Dataset = parse.GetRequiredValue(dataset)!,
                IndexDirectory = parse.GetValue(indexDir),
                Rebuild = parse.GetValue(rebuild),
                Storage = parse.GetValue(storage) is { } s ? SpannStorageExtensions.ParseStorage(s) : null,
                HeadRatio = parse.GetValue(headRatio),
                ReplicaCount = parse.GetValue(replicas),
                ClosureEpsilon = parse.GetValue(eps1),
                PostingPages = parse.GetValue(pages),
                MaxQueries = parse.GetValue(queriesLimit),
                K = parse.GetValue(k),
                Heads = parse.GetValue(heads)!,
                Beams = parse.GetValue(beams)!,
                PruneEpsilon = parse.GetValue(eps2),
                Probes = parse.GetValue(nprobe)!,
                IvfLists = parse.GetValue(ivfLists),
                Expansions = parse.GetValue(ef)!,
                Skip = new HashSet<string>(parse.GetValue(skip)!, StringComparer.OrdinalIgnoreCase),
            };
            SpannBenchmark.Run(options, (title, lines) =>
            {
                foreach (var line in lines) results.Add(line);
                results.Flush(title);
            }, progress);
            return ExitCodes.Success;
        });
        return command;
    }
}
