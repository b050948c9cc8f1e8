using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Index.Seismic;

/// <summary>
/// manifest.json of a Seismic index directory (see <see cref="SeismicIndexFormat"/>): format name and version, the
/// build options, counts, layout widths, and each binary file's size and CRC-32C. Written last and atomically, so
/// it names only complete files; read first, so every file can be checked against it.
/// </summary>
internal sealed record SeismicManifest(SeismicBuildOptions Options, int Documents, int Vocabulary, long NonZeros, long Postings, int Blocks,
    bool WideTerms, Dictionary<string, (long Bytes, uint Crc)> Files)
{
    /// <summary>Writes the manifest of <paramref name="index"/>, whose binary files <paramref name="files"/> lists, to <paramref name="path"/> (atomic rename).</summary>
    public static void Write(SeismicIndex index, JsonArray files, string path)
    {
        var o = index.Options;
        var manifest = new JsonObject
        {
            ["format"] = SeismicIndexFormat.FormatName,
            ["format_version"] = SeismicIndexFormat.CurrentVersion,
            ["parameters"] = new JsonObject
            {
                ["pruning"] = o.Pruning.ToString(),
                ["lambda"] = o.Lambda,
                ["avg_postings"] = o.AvgPostings,
                ["max_fraction"] = o.MaxFraction,
                ["centroid_fraction"] = o.CentroidFraction,
                ["min_cluster_size"] = o.MinClusterSize,
                ["max_block_factor"] = o.MaxBlockFactor,
                ["summary_energy"] = o.SummaryEnergy,
                ["summary_max_entries"] = o.SummaryMaxEntries,
                ["values"] = o.Values == ForwardValueStorage.Float16 ? "f16" : "f32",
                ["row_order"] = RowOrderName(o.RowOrder),
                ["document_components"] = o.DocumentComponents,
                ["centroid_components"] = o.CentroidComponents,
                ["seed"] = o.Seed,
                ["knn_neighbours"] = index.Graph?.Kappa ?? 0,
                ["knn_build_query_cut"] = o.KnnBuildQueryCut,
                ["knn_build_heap_factor"] = o.KnnBuildHeapFactor,
            },
            ["counts"] = new JsonObject
            {
                ["documents"] = index.Count,
                ["vocabulary"] = index.VocabularySize,
                ["nonzeros"] = index.Forward.NonZeroCount,
                ["postings"] = index.Postings.PostingCount,
                ["blocks"] = index.Postings.BlockCount,
                ["summary_components"] = index.Summaries.ComponentCount,
                ["summary_entries"] = index.Summaries.EntryCount,
            },
            ["term_ids"] = index.Forward.WideTermIds ? "u32" : "u16",
            ["summary_widths"] = $"component ids {8 * index.Summaries.Widths.TermBytes} bits, entry offsets {8 * index.Summaries.Widths.OffsetBytes} bits, block ids {8 * index.Summaries.Widths.BlockBytes} bits",
            ["files"] = files,
        };
        using var file = new AtomicFile(path);
        using (var json = new Utf8JsonWriter(file.Stream, new JsonWriterOptions { Indented = true }))
            manifest.WriteTo(json);
        file.Commit();
    }

    public static SeismicManifest Read(string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new DataFormatException(path, $"manifest is not valid JSON: {e.Message}", inner: e);
        }
        try
        {
            var format = root?["format"]?.GetValue<string>();
            if (format != SeismicIndexFormat.FormatName)
                throw new DataFormatException(path, $"format is '{format}', expected '{SeismicIndexFormat.FormatName}'", kind: ErrorKind.Incompatible);
            uint version = root!["format_version"]!.GetValue<uint>();
            if (version < SeismicIndexFormat.OldestReadableVersion || version > SeismicIndexFormat.CurrentVersion)
                throw new DataFormatException(path, $"format_version {version} is not readable here (supported {SeismicIndexFormat.OldestReadableVersion}..{SeismicIndexFormat.CurrentVersion}); rebuild the index",
                    kind: ErrorKind.Incompatible);
            var p = root["parameters"]!;
            var options = new SeismicBuildOptions
            {
                Pruning = Enum.Parse<PostingPruning>(p["pruning"]!.GetValue<string>()),
                Lambda = p["lambda"]!.GetValue<int>(),
                AvgPostings = p["avg_postings"]!.GetValue<double>(),
                MaxFraction = p["max_fraction"]!.GetValue<double>(),
                CentroidFraction = p["centroid_fraction"]!.GetValue<double>(),
                MinClusterSize = p["min_cluster_size"]!.GetValue<int>(),
                MaxBlockFactor = p["max_block_factor"]!.GetValue<double>(),
                SummaryEnergy = p["summary_energy"]!.GetValue<double>(),
                SummaryMaxEntries = p["summary_max_entries"]!.GetValue<int>(),
                Values = p["values"]!.GetValue<string>() switch
                {
                    "f16" => ForwardValueStorage.Float16,
                    "f32" => ForwardValueStorage.Float32,
                    var other => throw new DataFormatException(path, $"values '{other}' is not f16 or f32"),
                },
                RowOrder = p["row_order"]!.GetValue<string>() switch
                {
                    "input" => ForwardRowOrder.Input,
                    "block-locality" => ForwardRowOrder.BlockLocality,
                    var other => throw new DataFormatException(path, $"row_order '{other}' is not input or block-locality"),
                },
                DocumentComponents = p["document_components"]!.GetValue<int>(),
                CentroidComponents = p["centroid_components"]!.GetValue<int>(),
                Seed = p["seed"]!.GetValue<int>(),
                // Absent in indexes written before the kNN graph existed: no graph.
                KnnNeighbours = p["knn_neighbours"]?.GetValue<int>() ?? 0,
                KnnBuildQueryCut = p["knn_build_query_cut"]?.GetValue<int>() ?? SeismicBuildOptions.DefaultKnnBuildQueryCut,
                KnnBuildHeapFactor = p["knn_build_heap_factor"]?.GetValue<float>() ?? SeismicBuildOptions.DefaultKnnBuildHeapFactor,
            };
            if (options.KnnNeighbours < 0 || options.KnnNeighbours > SeismicBuildOptions.MaxKnnNeighbours)
                throw new DataFormatException(path, $"knn_neighbours {options.KnnNeighbours} is outside [0, {SeismicBuildOptions.MaxKnnNeighbours}]");
            var c = root["counts"]!;
            var files = new Dictionary<string, (long, uint)>(StringComparer.Ordinal);
            foreach (var f in root["files"]!.AsArray())
                files[f!["name"]!.GetValue<string>()] = (f["bytes"]!.GetValue<long>(),
                    uint.Parse(f["crc32c"]!.GetValue<string>(), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            var wide = root["term_ids"]!.GetValue<string>() switch
            {
                "u16" => false,
                "u32" => true,
                var other => throw new DataFormatException(path, $"term_ids '{other}' is not u16 or u32"),
            };
            var m = new SeismicManifest(options, c["documents"]!.GetValue<int>(), c["vocabulary"]!.GetValue<int>(), c["nonzeros"]!.GetValue<long>(),
                c["postings"]!.GetValue<long>(), c["blocks"]!.GetValue<int>(), wide, files);
            if (m.Documents < 0 || m.Vocabulary < 0 || m.Blocks < 0 || (!wide && m.Vocabulary > ushort.MaxValue + 1))
                throw new DataFormatException(path, $"counts out of range: {m.Documents} documents, {m.Vocabulary} terms, {m.Blocks} blocks");
            return m;
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or ArgumentException or OverflowException)
        {
            throw new DataFormatException(path, $"manifest is missing a field or has one of the wrong type: {e.Message}", inner: e);
        }
    }

    private static string RowOrderName(ForwardRowOrder order) => order == ForwardRowOrder.Input ? "input" : "block-locality";
}
