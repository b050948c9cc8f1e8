using System.Buffers.Binary;
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Retrieval.Index.Clustering;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Graphs;
using Retrieval.Index.Storage;
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

    public static SpannBuildResult Build(VectorSource source, string outputDirectory, SpannBuildOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
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
        var layout = new PostingLayout(options.Storage, metric, d);
        int cap = layout.Capacity(options.PostingPages);
        if (cap < 1) Guard.ThrowInvalid($"a posting of {options.PostingPages} pages cannot hold one {d}-dimensional {options.Storage.ToName()} vector; raise --posting-pages");
        var stats = assigner.EnforceCap(cap, graph, skipped);
        if (stats.VectorsInNoPosting != 0)
            throw new RetrievalException(ErrorKind.Internal, $"{stats.VectorsInNoPosting} vectors ended in no posting");
        Phase($"pass 2: assigned ({(graphAssignment ? $"graph beam {options.AssignmentBeam}" : "exact scan of heads")}), mean {stats.MeanReplicas:F2} replicas, postings {stats.MinPostingLength}..{stats.MaxPostingLength} (cap {cap})");

        // Layout and pass 3.
        ReleaseMemory();
        Directory.CreateDirectory(outputDirectory);
        var manifestPath = Path.Combine(outputDirectory, SpannFormat.ManifestFile);
        if (File.Exists(manifestPath)) File.Delete(manifestPath);
        var lengths = assigner.PostingLengths();
        var directory = Layout(layout, lengths);
        bool rerank = options.Storage.IsLossyFor(source.ElementType);
        var files = new List<SpannFileEntry>();
        files.Add(WritePostings(source, outputDirectory, options, layout, assigner, directory, skipped, rerank, files));
        Phase("pass 3: posting file written");

        var headPayload = HeadPayload(headRows, headRaw, headElement, headCount, d, metric);
        files.Add(WriteSmall(outputDirectory, SpannFormat.HeadsFile, SpannFormat.HeadsMagic, headPayload));
        files.Add(WriteSmall(outputDirectory, SpannFormat.GraphFile, NavigationGraph.Magic, graph.Serialize()));
        files.Add(WriteSmall(outputDirectory, SpannFormat.DirectoryFile, PostingDirectory.Magic, directory.Serialize()));

        var manifest = new SpannManifest
        {
            Version = SpannFormat.CurrentVersion,
            Metric = metric,
            Dimension = d,
            VectorCount = n,
            SourceElement = source.ElementType,
            HeadElement = headElement,
            Storage = options.Storage,
            HeadCount = headCount,
            SkippedRows = skippedCount,
            Rerank = rerank,
            Options = options,
            Stats = stats,
            Files = files,
        };
        var temp = manifestPath + ".tmp";
        File.WriteAllText(temp, manifest.ToJson());
        File.Move(temp, manifestPath, overwrite: true);
        Phase("metadata: heads, graph, directory and manifest written");
        long bytes = new FileInfo(manifestPath).Length;
        foreach (var f in files) bytes += f.Bytes;
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

    private static PostingDirectory Layout(PostingLayout layout, int[] lengths)
    {
        int h = lengths.Length;
        var offsets = new long[h];
        var pages = new int[h];
        long at = SpannFormat.DataOffset;
        for (int p = 0; p < h; p++)
        {
            offsets[p] = at;
            pages[p] = layout.Pages(lengths[p]);
            at += (long)pages[p] * PostingLayout.PageBytes;
        }
        return new PostingDirectory(offsets, pages, lengths);
    }

    /// <summary>heads.bin payload: int32 count, dimension, element type; int32 row ids; float inverse norms; raw head rows.</summary>
    private static byte[] HeadPayload(int[] headRows, byte[] headRaw, ElementType element, int count, int d, Metric metric)
    {
        var payload = new byte[12 + count * 8 + headRaw.Length];
        BinaryPrimitives.WriteInt32LittleEndian(payload, count);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(4), d);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(8), (int)element);
        Buffer.BlockCopy(headRows, 0, payload, 12, count * 4);
        var norms = MemoryMarshal.Cast<byte, float>(payload.AsSpan(12 + count * 4, count * 4));
        var rows = new DenseVectors(element, count, d, headRaw);
        var row = new float[d];
        for (int h = 0; h < count; h++)
        {
            rows.CopyRowTo(h, row);
            norms[h] = DenseKernels.InverseNorm(DenseKernels.SquaredNorm(row));
        }
        headRaw.CopyTo(payload.AsSpan(12 + count * 8));
        return payload;
    }

    private static SpannFileEntry WriteSmall(string dir, string name, string magic, byte[] payload)
    {
        var path = Path.Combine(dir, name);
        ulong checksum = SmallIndexFile.Write(path, magic, SpannFormat.CurrentVersion, payload);
        return new SpannFileEntry(name, new FileInfo(path).Length, checksum);
    }

    /// <summary>
    /// Writes postings.bin window by window (a window is a run of consecutive postings that fits the write
    /// buffer; each window re-streams the input), and vectors.bin on the first pass when re-ranking needs it.
    /// </summary>
    private static SpannFileEntry WritePostings(VectorSource source, string dir, SpannBuildOptions options, PostingLayout layout,
        PostingAssigner assigner, PostingDirectory directory, bool[] skipped, bool rerank, List<SpannFileEntry> files)
    {
        int d = source.Dimension, r = assigner.ReplicaCount, heads = directory.PostingCount;
        // Slot of each (vector, replica) in its posting: rows of a posting are in vector id order.
        var slots = new int[assigner.Heads.Length];
        var fill = new int[heads];
        for (int v = 0; v < assigner.VectorCount; v++)
            for (int j = 0; j < assigner.Counts[v]; j++) slots[v * r + j] = fill[assigner.Heads[v * r + j]]++;

        var path = Path.Combine(dir, SpannFormat.PostingsFile);
        var temp = path + ".tmp";
        var encoder = new PostingRowEncoder(layout, options.Metric);
        var row = new float[d];
        var work = new float[d];
        var stored = new byte[layout.RowBytes];
        var checksum = Checksum64.Create();
        long end = heads == 0 ? SpannFormat.DataOffset : directory.Offsets[heads - 1] + (long)directory.Pages[heads - 1] * PostingLayout.PageBytes;
        FullVectorWriter? full = rerank ? new FullVectorWriter(Path.Combine(dir, SpannFormat.FullVectorsFile), source) : null;
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            stream.Write(new byte[SpannFormat.DataOffset]);
            var windowBuffer = Array.Empty<byte>();
            int p0 = 0;
            while (p0 < heads)
            {
                int p1 = p0;
                long windowBytes = 0;
                while (p1 < heads && (p1 == p0 || windowBytes + (long)directory.Pages[p1] * PostingLayout.PageBytes <= options.WriteBufferBytes))
                    windowBytes += (long)directory.Pages[p1++] * PostingLayout.PageBytes;
                // One buffer for every window (cleared, not reallocated): a fresh 64 MiB array per window piles up
                // in the large-object heap until a full GC and was most of pass 3's resident growth.
                if (windowBuffer.Length < windowBytes) windowBuffer = new byte[windowBytes];
                var window = windowBuffer.AsSpan(0, (int)windowBytes);
                window.Clear();
                long windowStart = directory.Offsets[p0];
                foreach (var (first, chunk) in source.Chunks())
                {
                    full?.Append(chunk, first, skipped);
                    for (int i = 0; i < chunk.Count; i++)
                    {
                        int v = (int)(first + i);
                        if (skipped[v]) continue;
                        bool encoded = false;
                        float factor = 0, norm = 0;
                        for (int j = 0; j < assigner.Counts[v]; j++)
                        {
                            int h = assigner.Heads[v * r + j];
                            if (h < p0 || h >= p1) continue;
                            if (!encoded)
                            {
                                chunk.CopyRowTo(i, row);
                                encoder.Encode(row, work, stored, out factor, out norm);
                                encoded = true;
                            }
                            int count = directory.Counts[h], slot = slots[v * r + j];
                            var posting = window.Slice((int)(directory.Offsets[h] - windowStart), directory.Pages[h] * PostingLayout.PageBytes);
                            BinaryPrimitives.WriteInt32LittleEndian(posting[(slot * 4)..], v);
                            if (layout.HasFactor) BinaryPrimitives.WriteSingleLittleEndian(posting[(PostingLayout.FactorOffset(count) + slot * 4)..], factor);
                            if (layout.HasSquaredNorm) BinaryPrimitives.WriteSingleLittleEndian(posting[(PostingLayout.SquaredNormOffset(count) + slot * 4)..], norm);
                            stored.CopyTo(posting[(layout.VectorsOffset(count) + slot * layout.RowBytes)..]);
                        }
                    }
                }
                if (full is not null) { files.Add(full.Finish()); full = null; }
                checksum.Append(window);
                stream.Write(window);
                p0 = p1;
            }
            if (full is not null) { files.Add(full.Finish()); full = null; }
            Span<byte> header = stackalloc byte[IndexFileHeader.Size];
            ulong sum = checksum.Finish();
            new IndexFileHeader(SpannFormat.PostingsMagic, SpannFormat.CurrentVersion, SpannFormat.DataOffset, end - SpannFormat.DataOffset, sum).WriteTo(header);
            stream.Position = 0;
            stream.Write(header);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        return new SpannFileEntry(SpannFormat.PostingsFile, new FileInfo(path).Length, ReadPayloadChecksum(path));
    }

    private static ulong ReadPayloadChecksum(string path)
    {
        Span<byte> header = stackalloc byte[IndexFileHeader.Size];
        using var f = File.OpenHandle(path);
        RandomAccess.Read(f, header, 0);
        return BinaryPrimitives.ReadUInt64LittleEndian(header[32..]);
    }

    /// <summary>vectors.bin: header page, then every row in id order in the source element type (skipped rows zero).</summary>
    private sealed class FullVectorWriter
    {
        private readonly string _path;
        private readonly FileStream _stream;
        private Checksum64 _checksum = Checksum64.Create();
        private readonly int _rowBytes;

        public FullVectorWriter(string path, VectorSource source)
        {
            _path = path;
            _rowBytes = source.Dimension * source.ElementType.SizeInBytes();
            _stream = new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            _stream.Write(new byte[SpannFormat.DataOffset]);
        }

        public void Append(DenseVectors chunk, long first, bool[] skipped)
        {
            var zero = new byte[_rowBytes];
            for (int i = 0; i < chunk.Count; i++)
            {
                var raw = skipped[first + i] ? zero : chunk.RawRow(i);
                _checksum.Append(raw);
                _stream.Write(raw);
            }
        }

        public SpannFileEntry Finish()
        {
            // Pad to whole pages so an O_DIRECT read of the page holding the last row stays inside the file.
            long padded = PostingLayout.AlignUp(_stream.Length, PostingLayout.PageBytes);
            var zeros = new byte[padded - _stream.Length];
            _checksum.Append(zeros);
            _stream.Write(zeros);
            long payload = _stream.Length - SpannFormat.DataOffset;
            ulong sum = _checksum.Finish();
            Span<byte> header = stackalloc byte[IndexFileHeader.Size];
            new IndexFileHeader(SpannFormat.FullVectorsMagic, SpannFormat.CurrentVersion, SpannFormat.DataOffset, payload, sum).WriteTo(header);
            _stream.Position = 0;
            _stream.Write(header);
            _stream.Flush(flushToDisk: true);
            long length = _stream.Length;
            _stream.Dispose();
            File.Move(_path + ".tmp", _path, overwrite: true);
            return new SpannFileEntry(SpannFormat.FullVectorsFile, length, sum);
        }
    }
}
