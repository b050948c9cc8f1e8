using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;
using Retrieval.Query.Encoders;

namespace Retrieval.Bench.Evaluation;

/// <summary>
/// MiniLM document vectors of a whole corpus kept in a .npy file (float32, one row per document in corpus order),
/// so that repeated evaluations of the same corpus pay the encoding (about 15 minutes for SciFact on 2 busy cores)
/// once. A cache is trusted only when its shape matches the corpus and a fresh encoding of its first and last
/// documents agrees with the stored rows (cosine >= 0.999), which catches a cache of another corpus or order.
/// </summary>
public static class DenseDocumentCache
{
    /// <summary>Cosine a re-encoded probe row must reach against the cached row.</summary>
    public const double ProbeAgreement = 0.999;

    /// <summary>Default cache file: $XDG_CACHE_HOME (or ~/.cache)/retrieval/NAME-DOCS-all-MiniLM-L6-v2.npy.</summary>
    public static string DefaultPath(string datasetName, int documentCount)
    {
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(root))
            root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "retrieval", $"{datasetName}-{documentCount}-all-MiniLM-L6-v2.npy");
    }

    /// <summary>
    /// Vectors of <paramref name="texts"/>: read from <paramref name="cachePath"/> when it is valid for them, else
    /// encoded with <paramref name="encoder"/> and written there (when a path is given). <paramref name="fromCache"/>
    /// says which happened. Throws Incompatible naming the file when a cache exists but does not match.
    /// </summary>
    public static DenseVectors LoadOrEncode(string? cachePath, IReadOnlyList<string> texts, MiniLmEncoder encoder,
        IProgress<long>? progress, out bool fromCache)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(encoder);
        if (cachePath is not null && File.Exists(cachePath))
        {
            var cached = DenseVectorFile.Read(cachePath);
            Check(cachePath, cached, texts, encoder);
            fromCache = true;
            return cached.ElementType == ElementType.Float32 ? cached : cached.ToFloat32();
        }
        var vectors = encoder.Encode(texts, progress);
        if (cachePath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(cachePath))!);
            DenseVectorFile.Write(cachePath, vectors);
        }
        fromCache = false;
        return vectors;
    }

    private static void Check(string path, DenseVectors cached, IReadOnlyList<string> texts, MiniLmEncoder encoder)
    {
        if (cached.Count != texts.Count || cached.Dimension != MiniLmEncoder.Dimension)
            throw new RetrievalException(ErrorKind.Incompatible,
                $"dense cache {path} holds {cached.Count} x {cached.Dimension} vectors but the corpus has {texts.Count} documents " +
                $"of {MiniLmEncoder.Dimension} dimensions: delete the file or pass another cache path");
        if (texts.Count == 0) return;
        int last = texts.Count - 1;
        var probe = encoder.Encode(last == 0 ? [texts[0]] : [texts[0], texts[last]]);
        Span<float> stored = stackalloc float[MiniLmEncoder.Dimension];
        for (int p = 0; p < probe.Count; p++)
        {
            int row = p == 0 ? 0 : last;
            cached.CopyRowTo(row, stored);
            double cosine = Retrieval.Index.Vectors.Kernels.DenseKernels.Cosine(probe.Float32Row(p), stored);
            if (!(cosine >= ProbeAgreement))
                throw new RetrievalException(ErrorKind.Incompatible,
                    $"dense cache {path} row {row} does not match a fresh encoding of document {row} (cosine {cosine:F4} < {ProbeAgreement}): " +
                    "it was built from another corpus or order; delete the file or pass another cache path");
        }
    }
}
