using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Retrieval.Index.Clustering;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Graphs;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>What a build produced and how long each phase took.</summary>
public sealed record SpannBuildResult(SpannManifest Manifest, long BytesOnDisk, IReadOnlyList<(string Phase, double Seconds)> Phases)
{
    /// <summary>
    /// Per phase: process CPU seconds (all threads; on a shared machine wall time says little) and the resident
    /// set at the phase's end. Same order as <see cref="Phases"/>.
    /// </summary>
    public IReadOnlyList<(double CpuSeconds, long ResidentBytes)> PhaseResources { get; init; } = [];

    public double TotalSeconds { get { double s = 0; foreach (var p in Phases) s += p.Seconds; return s; } }
}

/// <summary>
/// Builds a SPANN index directory from a vector file or in-memory vectors, streaming the input: pass 1 samples
/// rows (reservoir) and checks them for NaN/infinity; heads come from hierarchical balanced k-means on the
/// sample; the navigation graph is built over the heads; pass 2 assigns every row to its postings; pass 3
/// (one per write window) writes the page-aligned posting file. Memory is the sample, the heads and the
/// per-row assignment lists, never the whole input.
/// </summary>
public static class SpannBuilder
{
    public static SpannBuildResult Build(string inputPath, string outputDirectory, SpannBuildOptions options, Action<string>? log = null) =>
        Build(VectorSource.FromFile(inputPath), outputDirectory, options, log);

    public static SpannBuildResult Build(DenseVectors vectors, string outputDirectory, SpannBuildOptions options, Action<string>? log = null) =>
        Build(VectorSource.FromVectors(vectors), outputDirectory, options, log);

    /// <summary>Builds from a streamed source (a file read in chunks, optionally its first rows only).</summary>
    internal static SpannBuildResult Build(VectorSource source, string outputDirectory, SpannBuildOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // The storage is fixed here, from the input's precision when not given: everything below and the manifest see it.
        var storage = options.StorageFor(source.ElementType);
        options = options with { Storage = storage };
        log ??= _ => { };
        if (source.Count == 0) Guard.ThrowInvalid($"{source.Description} holds no vectors; a SPANN index needs at least one");
        if (source.Dimension < 1) Guard.ThrowInvalid($"{source.Description} has dimension {source.Dimension}");
        if (source.Count > int.MaxValue / 64) Guard.ThrowInvalid($"{source.Description} holds {source.Count} vectors, more than one SPANN segment supports");
        int n = (int)source.Count, d = source.Dimension;
        var metric = options.Metric;
        var phases = new List<(string, double)>();
        var resources = new List<(double, long)>();
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        void Phase(string name)
        {
            var now = Process.GetCurrentProcess().TotalProcessorTime;
            long resident = Environment.WorkingSet;
            phases.Add((name, clock.Elapsed.TotalSeconds));
            resources.Add(((now - cpu).TotalSeconds, resident));
            log($"{name}: {clock.Elapsed.TotalSeconds:F1} s ({(now - cpu).TotalSeconds:F1} s CPU, resident {resident >> 20} MiB)");
            cpu = now;
            clock.Restart();
        }

        // Pass 1: reservoir sample + finiteness.
        var skipped = new bool[n];
        long skippedCount = 0;
        int sampleCapacity = (int)Math.Min(options.SampleSize, n);
        var sample = new float[(long)sampleCapacity * d];
        var sampleRows = new int[sampleCapacity];
        int sampled = 0;
        long seen = 0;
        var rng = new Random(options.Seed);
        var row = new float[d];
        foreach (var (first, chunk) in source.Chunks())
        {
            for (int i = 0; i < chunk.Count; i++)
            {
                long id = first + i;
                if (!VectorSource.DecodeFinite(chunk, i, row))
                {
                    if (!options.SkipNonFinite)
                        throw new DataFormatException(source.Description,
                            "vector contains NaN or infinity; fix the input or build with --skip-non-finite to leave such rows out (they are counted)", row: id);
                    skipped[id] = true;
                    skippedCount++;
                    continue;
                }
                long slot = seen < sampleCapacity ? seen : rng.NextInt64(seen + 1);
                seen++;
                if (slot >= sampleCapacity) continue;
                var target = sample.AsSpan((int)slot * d, d);
                Prepare(row, target, metric);
                sampleRows[slot] = (int)id;
                sampled = (int)Math.Max(sampled, slot + 1);
            }
        }
        long valid = n - skippedCount;
        if (valid == 0) Guard.ThrowInvalid($"every one of the {n} vectors in {source.Description} holds NaN or infinity; nothing to index");
        Phase($"pass 1: sampled {sampled} of {valid} rows ({skippedCount} skipped)");

        // Heads.
        int headCount = (int)Math.Clamp(Math.Round(options.HeadRatio * valid), 1, sampled);
        var headSample = HeadSelector.Select(sample, sampled, d, headCount, options);
        headCount = headSample.Length;
        var headRows = new int[headCount];
        var headVectors = new float[(long)headCount * d];
        for (int h = 0; h < headCount; h++)
        {
            headRows[h] = sampleRows[headSample[h]];
            sample.AsSpan(headSample[h] * d, d).CopyTo(headVectors.AsSpan(h * d, d));
        }
        sample = [];
        ReleaseMemory();
        Phase($"heads: {headCount} by hierarchical balanced k-means");

        var graph = NavigationGraphBuilder.Build(headVectors, headCount, d, options.GraphDegree, options.GraphBuildCandidates, options.GraphAlpha, options.ThreadCount);
        Phase($"navigation graph: degree {graph.Degree}");

        // Pass 2: candidates and closure/RNG assignment; keep the heads' own stored rows on the way.
        var assigner = new PostingAssigner(n, headCount, headVectors, d, options);
        var headElement = source.ElementType is ElementType.Float16 or ElementType.UInt8 ? source.ElementType : ElementType.Float32;
        var headRaw = new byte[(long)headCount * d * headElement.SizeInBytes()];
        var headOfRow = new Dictionary<int, int>(headCount);
        for (int h = 0; h < headCount; h++) headOfRow[headRows[h]] = h;
        bool graphAssignment = headCount > options.ExactAssignmentMaxHeads;
        // Rows go through in blocks of one reused buffer (float32, in clustering geometry), so pass 2 holds one
        // block, never a decoded copy of a whole input chunk; the exact path wraps the heads once, not per chunk.
        var headIndex = graphAssignment ? null : new ExactDenseIndex(NearestCentroids.Wrap(headVectors, headCount, d), Metric.L2);
        const int BlockRows = 8192;
        byte[]? blockBytes = null;
        DenseVectors? block = null;
        foreach (var (first, chunk) in source.Chunks())
        {
            for (int b0 = 0; b0 < chunk.Count; b0 += BlockRows)
            {
                int count = Math.Min(BlockRows, chunk.Count - b0);
                if (block is null || block.Count != count)
                {
                    blockBytes = new byte[(long)count * d * sizeof(float)];
                    block = new DenseVectors(ElementType.Float32, count, d, blockBytes);
                }
                var rows = MemoryMarshal.Cast<byte, float>(blockBytes.AsSpan());
                for (int i = 0; i < count; i++)
                {
                    var target = rows.Slice(i * d, d);
                    long id = first + b0 + i;
                    if (skipped[id]) { target.Clear(); continue; }
                    chunk.CopyRowTo(b0 + i, row);
                    Prepare(row, target, metric);
                    if (headOfRow.TryGetValue((int)id, out int h)) StoreHead(chunk, b0 + i, row, headElement, headRaw.AsSpan(h * d * headElement.SizeInBytes(), d * headElement.SizeInBytes()));
                }
                var nearest = graphAssignment
                    ? GraphNearest.Find(graph, headVectors, block, assigner.CandidateCount, options.AssignmentBeam, options.ThreadCount)
                    : headIndex!.Search(block, Math.Min(assigner.CandidateCount, headCount), options.ThreadCount);
                assigner.AssignChunk((int)(first + b0), nearest, skipped);
            }
        }
        headIndex = null;
        block = null;
        blockBytes = null;
        var layout = new PostingLayout(storage, metric, d);
        int cap = layout.Capacity(options.PostingPages);
        if (cap < 1) Guard.ThrowInvalid($"a posting of {options.PostingPages} pages cannot hold one {d}-dimensional {storage.ToName()} vector; raise --posting-pages");
        var stats = assigner.EnforceCap(cap, graph, skipped);
        if (stats.VectorsInNoPosting != 0)
            throw new RetrievalException(ErrorKind.Internal, $"{stats.VectorsInNoPosting} vectors ended in no posting");
        Phase($"pass 2: assigned ({(graphAssignment ? $"graph beam {options.AssignmentBeam}" : "exact scan of heads")}), mean {stats.MeanReplicas:F2} replicas, postings {stats.MinPostingLength}..{stats.MaxPostingLength} (cap {cap})");

        // Layout and pass 3.
        ReleaseMemory();
        SpannIndexWriter.BeginDirectory(outputDirectory);
        var lengths = assigner.PostingLengths();
        var directory = SpannIndexWriter.LayOut(layout, lengths);
        bool rerank = storage.IsLossyFor(source.ElementType);
        var files = new List<SpannFileEntry>();
        files.Add(SpannIndexWriter.WritePostings(source, outputDirectory, options, layout, assigner, directory, skipped, rerank, files));
        Phase("pass 3: posting file written");

        var headPayload = SpannIndexWriter.HeadPayload(headRows, headRaw, headElement, headCount, d, metric);
        files.Add(SpannIndexWriter.WriteSmall(outputDirectory, SpannFormat.HeadsFile, SpannFormat.HeadsMagic, headPayload));
        files.Add(SpannIndexWriter.WriteSmall(outputDirectory, SpannFormat.GraphFile, SpannFormat.GraphMagic, graph.Serialize()));
        files.Add(SpannIndexWriter.WriteSmall(outputDirectory, SpannFormat.DirectoryFile, SpannFormat.DirectoryMagic, directory.Serialize()));

        var manifest = new SpannManifest
        {
            Version = SpannFormat.CurrentVersion,
            Metric = metric,
            Dimension = d,
            VectorCount = n,
            SourceElement = source.ElementType,
            HeadElement = headElement,
            Storage = storage,
            HeadCount = headCount,
            SkippedRows = skippedCount,
            Rerank = rerank,
            Options = options,
            Stats = stats,
            Files = files,
        };
        long bytes = SpannIndexWriter.WriteManifest(outputDirectory, manifest);
        Phase("metadata: heads, graph, directory and manifest written");
        return new SpannBuildResult(manifest, bytes, phases) { PhaseResources = resources };
    }

    /// <summary>
    /// Returns the garbage of the phase just ended (the sample, clustering and assignment buffers) to the OS before
    /// the next phase allocates: without it the GC keeps those pages and the build's peak resident memory is the
    /// sum of every phase's, not the largest.
    /// </summary>
    private static void ReleaseMemory() => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>The geometry clustering and assignment run in: squared L2, on unit vectors for cosine.</summary>
    internal static void Prepare(ReadOnlySpan<float> row, Span<float> destination, Metric metric)
    {
        if (metric == Metric.Cosine) TensorPrimitives.Multiply(row, DenseKernels.InverseNorm(DenseKernels.SquaredNorm(row)), destination);
        else row.CopyTo(destination);
    }

    private static void StoreHead(DenseVectors chunk, int i, float[] decoded, ElementType headElement, Span<byte> destination)
    {
        if (headElement == chunk.ElementType) chunk.RawRow(i).CopyTo(destination);
        else MemoryMarshal.AsBytes(decoded.AsSpan()).CopyTo(destination);
    }
}
