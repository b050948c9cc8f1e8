using System.CommandLine;
using Retrieval.Bench.Benchmarks.Spann;
using Retrieval.Bench.Datasets;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval build spann`: builds a SPANN index directory and prints a BuildReport line with its distributions.</summary>
public static class BuildSpannCommand
{
    public static Command Create(CliHost host)
    {
        var input = new Option<string?>("--input", "-i")
        {
            Description = "Base vectors (.fvecs .bvecs .fbin .u8bin .i8bin .npy), streamed; or a dataset name/directory whose base is used.",
            HelpName = "FILE|DATASET",
            Required = true,
        };
        var output = new Option<string>("--out", "-o") { Description = "Index directory to create (replaced if it holds an index).", HelpName = "DIR", Required = true };
        var metric = CommonOptions.Metric();
        var headRatio = new Option<double>("--head-ratio") { Description = "Heads as a fraction of the vectors.", DefaultValueFactory = _ => SpannBuildOptions.DefaultHeadRatio };
        var replicas = new Option<int>("--replicas") { Description = "Most postings per vector (R).", DefaultValueFactory = _ => SpannBuildOptions.DefaultReplicaCount };
        var pages = new Option<int>("--posting-pages") { Description = "Posting length cap in 4 KiB pages (overflow moves to the next-best head).", DefaultValueFactory = _ => SpannBuildOptions.DefaultPostingPages };
        var storage = new Option<string?>("--storage")
        {
            Description = "Posting vector storage: f32, f16 or i8 (lossy storage re-ranks from a full-precision copy). Default: follows the input " +
                          "(float16 and uint8 -> f16, int8 -> i8, float32 -> f32: the smallest that holds it exactly).",
            HelpName = "f32|f16|i8",
        };
        var eps1 = new Option<double>("--eps1") { Description = "Closure rule epsilon: accept head j if d(x,c_j) <= (1+eps1) d(x,c_1).", DefaultValueFactory = _ => SpannBuildOptions.DefaultClosureEpsilon };
        var skipNonFinite = new Option<bool>("--skip-non-finite") { Description = "Leave out rows holding NaN or infinity (counted) instead of failing." };
        var sampleSize = new Option<int>("--sample") { Description = "Rows sampled for head selection.", DefaultValueFactory = _ => SpannBuildOptions.DefaultSampleSize };
        var maxRows = new Option<long?>("--max-rows") { Description = "Index only the first N rows of the input.", HelpName = "N" };
        var assignBeam = new Option<int>("--assign-beam") { Description = "Graph beam when assigning vectors to heads (0 = 2 x head candidates).", DefaultValueFactory = _ => 0 };
        var exactAssign = new Option<int>("--exact-assign-max-heads") { Description = "Assign by an exact scan of all heads up to this many heads, by graph search above.", DefaultValueFactory = _ => SpannBuildOptions.DefaultExactAssignmentMaxHeads };
        var threads = CommonOptions.Threads(0, "Build threads (0 = all cores).");
        var command = new Command("spann", "Build a SPANN index: balanced k-means heads in memory, page-aligned postings on disk.")
        {
            input, output, metric, headRatio, replicas, pages, storage, eps1, skipNonFinite, sampleSize, maxRows, assignBeam, exactAssign, threads,
        };
        host.Examples(command,
            "retrieval build spann --input datasets/fixtures/tiny-dense/base.u8bin --out /tmp/tiny-spann --metric l2",
            "retrieval build spann --input minilm-passages --out /tmp/minilm-spann --storage f16");
        command.SetAction(parse =>
        {
            var progress = host.Progress(parse);
            var results = host.Results(parse);
            var (path, datasetMetric) = ResolveInput(parse.GetRequiredValue(input)!);
            var chosen = parse.GetValue(metric) is { } m ? MetricExtensions.ParseMetric(m) : datasetMetric ?? Metric.L2;
            var options = new SpannBuildOptions
            {
                Metric = chosen,
                HeadRatio = parse.GetValue(headRatio),
                ReplicaCount = parse.GetValue(replicas),
                PostingPages = parse.GetValue(pages),
                Storage = parse.GetValue(storage) is { } s ? SpannStorageExtensions.ParseStorage(s) : null,
                ClosureEpsilon = parse.GetValue(eps1),
                SkipNonFinite = parse.GetValue(skipNonFinite),
                SampleSize = parse.GetValue(sampleSize),
                Threads = parse.GetValue(threads),
                AssignmentBeamWidth = parse.GetValue(assignBeam),
                ExactAssignmentMaxHeads = parse.GetValue(exactAssign),
            };
            var result = SpannBuilder.Build(VectorSource.FromFile(path, maxRows: parse.GetValue(maxRows)), parse.GetRequiredValue(output), options, progress.Log);
            results.Add(SpannReports.Build(result, ProcessMemory.PeakResidentBytes()));
            results.Flush("spann build:");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A file path, or a dataset (name or directory) whose base file and metric are used.</summary>
    internal static (string Path, Metric? Metric) ResolveInput(string value)
    {
        if (File.Exists(value)) return (value, null);
        var manifest = DatasetLocator.Open(value);
        if (manifest.Base is null)
            throw new Retrieval.Index.Errors.RetrievalException(Retrieval.Index.Errors.ErrorKind.InvalidInput, $"dataset '{manifest.Name}' has no base vectors to index");
        return (manifest.Base.Path, manifest.Metric);
    }
}
