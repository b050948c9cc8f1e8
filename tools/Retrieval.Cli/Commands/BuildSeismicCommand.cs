using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Retrieval.Bench.Corpora;
using Retrieval.Bench.Reporting;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Seismic;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;
using Retrieval.Query.Indexes;
using Retrieval.Query.Indexes.Seismic;

namespace Retrieval.Cli.Commands;

/// <summary>
/// `retrieval build seismic`: builds a Seismic index directory from BigANN sparse CSR (.csr), Seismic JSONL
/// (.jsonl[.gz], tokens through the bert-base-uncased vocabulary) or text (.tsv[.gz], id TAB text, through the
/// BM25 text encoder; the corpus statistics are saved so text queries can be encoded later).
/// </summary>
public static class BuildSeismicCommand
{
    public static Command Create(CliHost host)
    {
        var input = new Option<string>("--input", "-i") { Description = "Documents: .csr (BigANN sparse), .jsonl[.gz] (Seismic JSONL) or .tsv[.gz] (id<TAB>text).", HelpName = "FILE", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Index directory to write (manifest.json + checksummed binary files).", HelpName = "DIR", Required = true };
        var format = new Option<string?>("--format") { Description = "Input format when the extension does not say: csr, jsonl or text." };
        var lambda = new Option<int?>("--lambda") { Description = "Static pruning: keep the top N postings of every list (fixed lambda).", HelpName = "N" };
        var avgPostings = new Option<double?>("--avg-postings") { Description = $"Static pruning: keep the largest AVG x vocabulary postings overall (global budget; default {SeismicBuildOptions.DefaultAvgPostings.ToString(CultureInfo.InvariantCulture)}).", HelpName = "AVG" };
        var maxFraction = new Option<double?>("--max-fraction") { Description = $"Global budget: per-list cap as a multiple of --avg-postings (default {SeismicBuildOptions.DefaultMaxFraction.ToString(CultureInfo.InvariantCulture)}).", HelpName = "F" };
        var noPruning = new Option<bool>("--no-pruning") { Description = "Keep every posting." };
        var centroidFraction = new Option<double?>("--centroid-fraction") { Description = "Centroids per list as a fraction of its length (default 0.1).", HelpName = "F" };
        var maxBlockFactor = new Option<double?>("--max-block-factor") { Description = "Clusters above this multiple of the mean block size (1 / centroid fraction) are cut by the list term's weight (default 1.5).", HelpName = "F" };
        var summaryMaxEntries = new Option<int?>("--summary-max-entries") { Description = "At most N entries per block summary after alpha pruning (default 0 = no cap).", HelpName = "N" };
        var summaryEnergy = new Option<double?>("--summary-energy") { Description = "Alpha: fraction of each block summary's L1 mass kept (default 0.4).", HelpName = "ALPHA" };
        var values = new Option<string>("--values") { Description = "Forward-index weights: f16 (default) or f32.", DefaultValueFactory = _ => "f16" };
        var rowOrder = new Option<string>("--row-order") { Description = "Forward rows: block-locality (default; blocks' documents stored together) or input (input order).", DefaultValueFactory = _ => "block-locality" };
        var idfSplit = new Option<bool>("--idf-split") { Description = "Text input: index the score-preserving sqrt(idf) split of the BM25 weights." };
        var knn = new Option<int?>("--knn") { Description = $"kNN graph: store each document's N approximate nearest neighbours (kappa, 0-{SeismicBuildOptions.MaxKnnNeighbours}; default 0 = no graph), expanded at search time after the block walk.", HelpName = "N" };
        var knnBuildQueryCut = new Option<int?>("--knn-build-query-cut") { Description = $"With --knn: query_cut of the searches that find each document's neighbours (default {SeismicBuildOptions.DefaultKnnBuildQueryCut}).", HelpName = "N" };
        var knnBuildHeapFactor = new Option<float?>("--knn-build-heap-factor") { Description = $"With --knn: heap_factor of those searches (default {SeismicBuildOptions.DefaultKnnBuildHeapFactor.ToString(CultureInfo.InvariantCulture)}).", HelpName = "F" };
        var threads = CommonOptions.Threads(0, "Build threads.");
        var command = new Command("seismic", "Build a Seismic learned-sparse index (pruned, blocked inverted lists with quantized summaries and a forward index).")
        {
            input, output, format, lambda, avgPostings, maxFraction, noPruning, centroidFraction, maxBlockFactor, summaryMaxEntries, summaryEnergy, values, rowOrder, idfSplit, knn, knnBuildQueryCut, knnBuildHeapFactor, threads,
        };
        host.Examples(command,
            "retrieval build seismic --input ../shared/datasets/seismic-toy/documents.jsonl --out /tmp/seismic-toy",
            "retrieval build seismic --input ../shared/datasets/passages/passages.tsv.gz --out /tmp/seismic-passages --avg-postings 150 --max-fraction 10",
            "retrieval build seismic --input base.csr --out /tmp/seismic --lambda 2000 --values f32",
            "retrieval build seismic --input ../shared/datasets/passages/passages.tsv.gz --out /tmp/seismic-passages-knn --avg-postings 150 --max-fraction 10 --knn 10");
        command.Validators.Add(result =>
        {
            int pruning = (result.GetResult(lambda) is not null ? 1 : 0) + (result.GetResult(avgPostings) is not null ? 1 : 0) + (result.GetValue(noPruning) ? 1 : 0);
            if (pruning > 1) result.AddError("give at most one of --lambda, --avg-postings and --no-pruning");
            if (result.GetResult(maxFraction) is not null && result.GetResult(lambda) is not null) result.AddError("--max-fraction applies to --avg-postings, not --lambda");
            if (result.GetResult(values) is not null && result.GetValue(values) is not ("f16" or "f32")) result.AddError($"--values must be f16 or f32, got '{result.GetValue(values)}'");
            if (result.GetResult(rowOrder) is not null && result.GetValue(rowOrder) is not ("block-locality" or "input")) result.AddError($"--row-order must be block-locality or input, got '{result.GetValue(rowOrder)}'");
        });
        command.SetAction(parse =>
        {
            var progress = host.Progress(parse);
            var results = host.Results(parse);
            string path = parse.GetRequiredValue(input);
            string dir = parse.GetRequiredValue(output);
            if (!File.Exists(path)) throw new RetrievalException(ErrorKind.NotFound, $"input file not found: {path}");
            var options = SeismicBuildOptions.Default with
            {
                Values = parse.GetValue(values) == "f32" ? ForwardValueStorage.Float32 : ForwardValueStorage.Float16,
                RowOrder = parse.GetValue(rowOrder) == "input" ? ForwardRowOrder.Input : ForwardRowOrder.BlockLocality,
                Threads = parse.GetValue(threads),
            };
            if (parse.GetValue(noPruning)) options = options with { Pruning = PostingPruning.None };
            if (parse.GetValue(lambda) is int l) options = options with { Pruning = PostingPruning.FixedLambda, Lambda = l };
            if (parse.GetValue(avgPostings) is double avg) options = options with { Pruning = PostingPruning.GlobalBudget, AvgPostings = avg };
            if (parse.GetValue(maxFraction) is double mf) options = options with { MaxFraction = mf };
            if (parse.GetValue(centroidFraction) is double cf) options = options with { CentroidFraction = cf };
            if (parse.GetValue(maxBlockFactor) is double mbf) options = options with { MaxBlockFactor = mbf };
            if (parse.GetValue(summaryMaxEntries) is int sme) options = options with { SummaryMaxEntries = sme };
            if (parse.GetValue(summaryEnergy) is double alpha) options = options with { SummaryEnergy = alpha };
            if (parse.GetValue(knn) is int kappa) options = options with { KnnNeighbours = kappa };
            if (parse.GetValue(knnBuildQueryCut) is int kqc) options = options with { KnnBuildQueryCut = kqc };
            if (parse.GetValue(knnBuildHeapFactor) is float khf) options = options with { KnnBuildHeapFactor = khf };
            options.Validate();

            var kind = InputFormat(path, parse.GetValue(format));
            var details = new List<ReportField>();
            var clock = Stopwatch.StartNew();
            SeismicIndex index;
            switch (kind)
            {
                case SparseInputFormat.Csr:
                    progress.Log($"reading BigANN sparse CSR {path}");
                    index = SeismicIndex.Build(SparseCsrFile.Read(path), options);
                    index.Save(dir);
                    break;
                case SparseInputFormat.Jsonl:
                    {
                        progress.Log($"reading Seismic JSONL {path} (bert-base-uncased vocabulary)");
                        var data = SeismicJsonlFile.Read(path, BertVocabulary.BertBaseUncased);
                        details.Add(new("unknown_tokens", data.UnknownTokenCount));
                        details.Add(new("distinct_unknown_tokens", data.DistinctUnknownTokens));
                        if (data.UnknownTokenCount > 0)
                            progress.Log($"{data.UnknownTokenCount} token occurrences ({data.DistinctUnknownTokens} distinct, e.g. {string.Join(", ", data.UnknownTokenSamples)}) are not in the vocabulary and were dropped");
                        index = SeismicIndex.Build(data.Vectors, options, data.Ids);
                        index.Save(dir);
                        break;
                    }
                case SparseInputFormat.Text:
                    {
                        progress.Log($"reading text {path} and encoding BM25 document vectors");
                        var texts = TsvTextFile.Read(path);
                        var text = SeismicTextIndex.Build(texts.Ids, texts.Texts,
                            new SeismicTextOptions { Build = options, IdfSplit = parse.GetValue(idfSplit), Threads = options.Threads });
                        text.Save(dir);
                        index = text.Index;
                        details.Add(new("unknown_tokens", text.UnknownDocumentTokens));
                        if (text.UnknownDocumentTokens > 0)
                            progress.Log($"{text.UnknownDocumentTokens} token occurrences were [UNK] (not in the vocabulary) and were dropped");
                        break;
                    }
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, "unhandled sparse input format");
            }
            double seconds = clock.Elapsed.TotalSeconds;
            var stats = index.BuildStats!;
            details.AddRange(
            [
                new("index", "seismic"),
                new("input_format", kind.ToName()),
                new("documents", index.Count),
                new("empty_documents", stats.EmptyDocuments),
                new("vocabulary", index.VocabularySize),
                new("nonzeros", index.NonZeroCount),
                new("postings_kept", stats.PostingCount),
                new("blocks", stats.BlockCount),
                new("summary_entries", stats.SummaryEntryCount),
                new("forward_bytes", index.ForwardBytes),
                new("list_bytes", index.ListBytes),
                new("summary_bytes", index.SummaryBytes),
                new("index_build_seconds", stats.BuildSeconds),
                new("knn_neighbours", index.KnnNeighbours),
                new("knn_graph_seconds", stats.KnnGraphSeconds),
                new("knn_graph_bytes", index.KnnGraphBytes),
            ]);
            results.Add(new BuildReport
            {
                BuildSeconds = seconds,
                IndexBytesOnDisk = SeismicIndexFormat.DirectorySize(dir),
                PeakRssBytes = ProcessMemory.PeakResidentBytes(),
                Details = details,
            });
            results.Flush();
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The input format: --format when given, else the file's extension (see <see cref="SparseInputFormats"/>).</summary>
    private static SparseInputFormat InputFormat(string path, string? given)
    {
        if (given is not null)
            return SparseInputFormats.TryParse(given, out var named)
                ? named
                : throw new UsageException($"unknown input format '{given}': expected {SparseInputFormats.Names}");
        return SparseInputFormats.TryFromPath(path, out var inferred)
            ? inferred
            : throw new UsageException($"cannot tell the format of {path} from its extension; give --format csr|jsonl|text");
    }
}
