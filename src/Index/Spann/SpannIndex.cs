using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retrieval.Index.Errors;
using Retrieval.Index.Graphs;
using Retrieval.Index.Search;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;
using Retrieval.Index.Vectors.Kernels;

namespace Retrieval.Index.Spann;

/// <summary>Open-time options.</summary>
public sealed record SpannOpenOptions
{
    /// <summary>Hash every byte of postings.bin (and vectors.bin) on open and compare with the manifest; small files are always verified.</summary>
    public bool VerifyPostingChecksums { get; init; } = true;
}

/// <summary>
/// An opened SPANN index: heads, navigation graph and posting directory in memory; postings read per query
/// from postings.bin (buffered or O_DIRECT) or kept in RAM, per <see cref="SpannSearchParameters.Io"/>.
/// Split like FAISS's IVF: <see cref="SelectHeads"/> is the coarse quantizer (graph over heads + eps2 pruning),
/// <see cref="IPostingStore"/> the inverted lists, and <see cref="SearchWithHeads"/> the list scanner, callable
/// alone so the disk stage can be tested and timed without the graph.
/// Thread-safe: every call rents per-thread scratch from a pool.
/// </summary>
public sealed class SpannIndex : IDisposable
{
    private readonly string _postingsPath;
    private readonly string? _fullPath;
    private readonly ConcurrentBag<SpannSearcher> _pool = new();
    private readonly Lock _storeLock = new();
    private IPostingStore? _buffered, _direct, _memory;
    private DirectFileReader? _fullBuffered, _fullDirect;
    private AlignedBuffer? _fullMemory;
    private ReadWorkers? _readWorkers;
    private long _headTicks, _postingTicks, _searches, _headEvaluations;
    private readonly int[] _entryHeads;
    private readonly int _fullRowBytes;

    private SpannIndex(string directory, SpannManifest manifest, HeadSet heads, NavigationGraph graph, PostingDirectory postings, long bytesOnDisk)
    {
        DirectoryPath = directory;
        Manifest = manifest;
        Heads = heads;
        Graph = graph;
        Postings = postings;
        Layout = new PostingLayout(manifest.Storage, manifest.Metric, manifest.Dimension);
        BytesOnDisk = bytesOnDisk;
        _postingsPath = Path.Combine(directory, SpannFormat.PostingsFile);
        _fullPath = manifest.Rerank ? Path.Combine(directory, SpannFormat.FullVectorsFile) : null;
        _fullRowBytes = manifest.Dimension * manifest.SourceElement.SizeInBytes();
        MaxPostingCount = postings.MaxCount;
        // Seeds of every graph search (about sqrt(H)/2 heads spread over the head list, which is in base row order):
        // starting the beam near the query saves the evaluations the medoid alone spends walking in (fashion-mnist,
        // 7,200 heads, M 16: 251 head evaluations per query against 327, and fewer than with sqrt(H) or 2 sqrt(H) seeds).
        _entryHeads = GraphNearest.StrideEntries(heads.Count);
    }

    public string DirectoryPath { get; }
    public SpannManifest Manifest { get; }
    public HeadSet Heads { get; }
    public NavigationGraph Graph { get; }
    public PostingDirectory Postings { get; }
    public PostingLayout Layout { get; }
    public Metric Metric => Manifest.Metric;
    public int Dimension => Manifest.Dimension;
    public int Count => Manifest.VectorCount;
    public long BytesOnDisk { get; }
    public int MaxPostingCount { get; }

    /// <summary>Memory the index structures hold: heads, graph, posting directory, and postings/full vectors loaded by in-memory mode.</summary>
    public long ResidentBytes => Heads.ResidentBytes + Graph.ResidentBytes + Postings.ResidentBytes +
                                 (_memory?.ResidentBytes ?? 0) + (_fullMemory?.Length ?? 0);

    /// <summary>Bytes and reads issued to storage by all searches so far (postings and re-rank rows).</summary>
    public long BytesRead => (_buffered?.BytesRead ?? 0) + (_direct?.BytesRead ?? 0) + (_fullBuffered?.BytesRead ?? 0) + (_fullDirect?.BytesRead ?? 0);
    public long ReadCount => (_buffered?.ReadCount ?? 0) + (_direct?.ReadCount ?? 0) + (_fullBuffered?.ReadCount ?? 0) + (_fullDirect?.ReadCount ?? 0);

    /// <summary>Cumulative time in head selection (graph) and in posting read + scan, for the navigation share of query time.</summary>
    public (TimeSpan HeadSelection, TimeSpan Postings, long Searches) Profile =>
        (Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _headTicks)), Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _postingTicks)), Interlocked.Read(ref _searches));

    /// <summary>Head distance evaluations (navigation seeds + graph) by all searches since <see cref="ResetProfile"/>.</summary>
    public long HeadEvaluations => Interlocked.Read(ref _headEvaluations);

    public void ResetProfile()
    {
        Interlocked.Exchange(ref _headEvaluations, 0);
        Interlocked.Exchange(ref _headTicks, 0);
        Interlocked.Exchange(ref _postingTicks, 0);
        Interlocked.Exchange(ref _searches, 0);
    }

    public static SpannIndex Open(string directory, SpannOpenOptions? options = null)
    {
        options ??= new SpannOpenOptions();
        if (!Directory.Exists(directory)) throw new RetrievalException(ErrorKind.NotFound, $"SPANN index directory not found: {directory}");
        var manifestPath = Path.Combine(directory, SpannFormat.ManifestFile);
        if (!File.Exists(manifestPath))
            throw new RetrievalException(ErrorKind.NotFound, $"{directory} is not a SPANN index: {SpannFormat.ManifestFile} not found (an interrupted build leaves no manifest)");
        var manifest = SpannManifest.Parse(manifestPath, File.ReadAllText(manifestPath));
        long bytes = new FileInfo(manifestPath).Length;
        var entries = new Dictionary<string, SpannFileEntry>();
        foreach (var f in manifest.Files) entries[f.Name] = f;
        SpannFileEntry Expect(string name)
        {
            if (!entries.TryGetValue(name, out var entry))
                throw new DataFormatException(manifestPath, $"the manifest lists no file '{name}'");
            var path = Path.Combine(directory, name);
            if (!File.Exists(path)) throw new RetrievalException(ErrorKind.Corrupt, $"index file missing: {path} (listed in {manifestPath})");
            long length = new FileInfo(path).Length;
            if (length != entry.Bytes)
                throw new DataFormatException(path, $"file is {length} bytes but the manifest records {entry.Bytes} (truncated or replaced)");
            bytes += length;
            return entry;
        }

        var headsEntry = Expect(SpannFormat.HeadsFile);
        var (headPayload, headHeader) = SmallIndexFile.Read(Path.Combine(directory, SpannFormat.HeadsFile), SpannFormat.HeadsMagic, SpannFormat.OldestReadableVersion, SpannFormat.CurrentVersion);
        CheckSum(directory, headsEntry, headHeader.PayloadChecksum);
        var heads = HeadSet.Deserialize(Path.Combine(directory, SpannFormat.HeadsFile), headPayload, manifest.HeadCount, manifest.Dimension, manifest.HeadElement, manifest.VectorCount);

        var graphEntry = Expect(SpannFormat.GraphFile);
        var (graphPayload, graphHeader) = SmallIndexFile.Read(Path.Combine(directory, SpannFormat.GraphFile), NavigationGraph.Magic, SpannFormat.OldestReadableVersion, SpannFormat.CurrentVersion);
        CheckSum(directory, graphEntry, graphHeader.PayloadChecksum);
        var graph = NavigationGraph.Deserialize(Path.Combine(directory, SpannFormat.GraphFile), graphPayload, manifest.HeadCount);

        var postingsEntry = Expect(SpannFormat.PostingsFile);
        var postingsPath = Path.Combine(directory, SpannFormat.PostingsFile);
        var postingsHeader = ReadHeader(postingsPath, SpannFormat.PostingsMagic);
        CheckSum(directory, postingsEntry, postingsHeader.PayloadChecksum);

        var dirEntry = Expect(SpannFormat.DirectoryFile);
        var (dirPayload, dirHeader) = SmallIndexFile.Read(Path.Combine(directory, SpannFormat.DirectoryFile), PostingDirectory.Magic, SpannFormat.OldestReadableVersion, SpannFormat.CurrentVersion);
        CheckSum(directory, dirEntry, dirHeader.PayloadChecksum);
        var layout = new PostingLayout(manifest.Storage, manifest.Metric, manifest.Dimension);
        var postings = PostingDirectory.Deserialize(Path.Combine(directory, SpannFormat.DirectoryFile), dirPayload, manifest.HeadCount,
            postingsEntry.Bytes, layout, SpannFormat.DataOffset);

        if (options.VerifyPostingChecksums) VerifyPayload(postingsPath, postingsHeader);
        if (manifest.Rerank)
        {
            var fullEntry = Expect(SpannFormat.FullVectorsFile);
            var fullPath = Path.Combine(directory, SpannFormat.FullVectorsFile);
            var fullHeader = ReadHeader(fullPath, SpannFormat.FullVectorsMagic);
            CheckSum(directory, fullEntry, fullHeader.PayloadChecksum);
            long expected = PostingLayout.AlignUp((long)manifest.VectorCount * manifest.Dimension * manifest.SourceElement.SizeInBytes(), PostingLayout.PageBytes);
            if (fullHeader.PayloadLength != expected)
                throw new DataFormatException(fullPath, $"holds {fullHeader.PayloadLength} bytes of vectors, expected {expected}");
            if (options.VerifyPostingChecksums) VerifyPayload(fullPath, fullHeader);
        }
        return new SpannIndex(directory, manifest, heads, graph, postings, bytes);
    }

    private static void CheckSum(string directory, SpannFileEntry entry, ulong headerChecksum)
    {
        if (entry.Checksum != headerChecksum)
            throw new DataFormatException(Path.Combine(directory, entry.Name),
                $"payload checksum {headerChecksum:x16} differs from the manifest's {entry.Checksum:x16} (files from different builds?)");
    }

    private static IndexFileHeader ReadHeader(string path, string magic)
    {
        Span<byte> header = stackalloc byte[IndexFileHeader.Size];
        using var handle = File.OpenHandle(path);
        long length = RandomAccess.GetLength(handle);
        int n = RandomAccess.Read(handle, header, 0);
        return IndexFileHeader.Read(path, header[..n], length, magic, SpannFormat.OldestReadableVersion, SpannFormat.CurrentVersion);
    }

    private static void VerifyPayload(string path, IndexFileHeader header)
    {
        using var handle = File.OpenHandle(path, options: FileOptions.SequentialScan);
        var buffer = new byte[4 << 20];
        var sum = Checksum64.Create();
        for (long at = header.PayloadOffset; at < header.PayloadOffset + header.PayloadLength;)
        {
            int want = (int)Math.Min(buffer.Length, header.PayloadOffset + header.PayloadLength - at);
            int n = RandomAccess.Read(handle, buffer.AsSpan(0, want), at);
            if (n <= 0) throw new DataFormatException(path, "unexpected end of file while verifying", byteOffset: at);
            sum.Append(buffer.AsSpan(0, n));
            at += n;
        }
        if (sum.Finish() != header.PayloadChecksum)
            throw new DataFormatException(path, "payload checksum mismatch: the file is corrupt (bytes changed since it was built)");
    }

    private IPostingStore Store(PostingIoMode mode)
    {
        var store = mode switch { PostingIoMode.Direct => _direct, PostingIoMode.Memory => _memory, _ => _buffered };
        if (store is not null) return store;
        lock (_storeLock)
        {
            if (mode != PostingIoMode.Memory) _readWorkers ??= new ReadWorkers();
            switch (mode)
            {
                case PostingIoMode.Direct:
                    _direct ??= new DiskPostingStore(_postingsPath, Postings, direct: true, _readWorkers!);
                    if (_fullPath is not null) _fullDirect ??= new DirectFileReader(_fullPath, direct: true);
                    return _direct;
                case PostingIoMode.Memory:
                    if (_fullPath is not null && _fullMemory is null)
                    {
                        using var reader = new DirectFileReader(_fullPath, direct: false);
                        var buffer = new AlignedBuffer(reader.Length);
                        reader.ReadExactly(buffer.Span, 0);
                        _fullMemory = buffer;
                    }
                    _memory ??= new MemoryPostingStore(_postingsPath, Postings);
                    return _memory;
                default:
                    _buffered ??= new DiskPostingStore(_postingsPath, Postings, direct: false, _readWorkers!);
                    if (_fullPath is not null) _fullBuffered ??= new DirectFileReader(_fullPath, direct: false);
                    return _buffered;
            }
        }
    }

    /// <summary>Loads in-memory mode (or opens the files of a disk mode) now, so a benchmark does not time it.</summary>
    public void Prepare(PostingIoMode mode) => Store(mode);

    public SpannSearcher RentSearcher() =>
        _pool.TryTake(out var s) ? s : new SpannSearcher(Count, Dimension, MaxPostingCount);

    public void ReturnSearcher(SpannSearcher searcher) => _pool.Add(searcher);

    /// <summary>
    /// Top-k of one query on the calling thread (reads may run on pool threads), best first into the spans;
    /// scores in the metric's units (squared L2 ascending, ip/cosine descending); pads with -1 / NaN.
    /// Returns how many were found.
    /// </summary>
    public int SearchOne(ReadOnlySpan<float> query, int k, SpannSearchParameters parameters, Span<int> ids, Span<float> scores)
    {
        var s = RentSearcher();
        try { return SearchOne(query, k, parameters, ids, scores, s); }
        finally { ReturnSearcher(s); }
    }

    public int SearchOne(ReadOnlySpan<float> query, int k, SpannSearchParameters parameters, Span<int> ids, Span<float> scores, SpannSearcher searcher)
    {
        CheckK(k, ids, scores);
        parameters.Validate();
        PrepareQuery(query, searcher);
        long t0 = Stopwatch.GetTimestamp();
        int heads = SelectHeadsPrepared(parameters, searcher);
        long t1 = Stopwatch.GetTimestamp();
        int found = ScanPostings(searcher.HeadIds.AsSpan(0, heads), k, parameters, ids, scores, searcher);
        long t2 = Stopwatch.GetTimestamp();
        Interlocked.Add(ref _headTicks, t1 - t0);
        Interlocked.Add(ref _headEvaluations, searcher.Graph.Evaluations);
        searcher.Graph.Evaluations = 0;
        Interlocked.Add(ref _postingTicks, t2 - t1);
        Interlocked.Increment(ref _searches);
        return found;
    }

    /// <summary>
    /// The coarse stage alone: the heads (= posting ids) whose postings a search with these parameters reads,
    /// best first, after eps2 pruning; returns their number (at most parameters.Heads).
    /// </summary>
    public int SelectHeads(ReadOnlySpan<float> query, SpannSearchParameters parameters, Span<int> heads)
    {
        parameters.Validate();
        var s = RentSearcher();
        try
        {
            PrepareQuery(query, s);
            int n = SelectHeadsPrepared(parameters, s);
            s.HeadIds.AsSpan(0, n).CopyTo(heads);
            return n;
        }
        finally { ReturnSearcher(s); }
    }

    /// <summary>
    /// The posting stage alone ("search with pre-assigned heads"): reads the postings of <paramref name="heads"/>
    /// as one batch, scans them, de-duplicates replicas and returns the exact top-k among their vectors.
    /// </summary>
    public int SearchWithHeads(ReadOnlySpan<float> query, ReadOnlySpan<int> heads, int k, SpannSearchParameters parameters, Span<int> ids, Span<float> scores)
    {
        CheckK(k, ids, scores);
        parameters.Validate();
        foreach (int h in heads)
            if ((uint)h >= (uint)Heads.Count) Guard.ThrowInvalid($"head {h} is outside 0..{Heads.Count - 1}");
        var s = RentSearcher();
        try
        {
            PrepareQuery(query, s);
            return ScanPostings(heads, k, parameters, ids, scores, s);
        }
        finally { ReturnSearcher(s); }
    }

    /// <summary>Every query, across <paramref name="threads"/> threads (0 = all cores).</summary>
    public SearchResults Search(DenseVectors queries, int k, SpannSearchParameters parameters, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(queries);
        Guard.SameDimension(Dimension, queries.Dimension, "the query set");
        if (threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {threads}");
        Guard.ValidK(k);
        if (k > Count) Guard.ThrowInvalid($"k = {k} is larger than the {Count} vectors in the index");
        var results = new SearchResults(queries.Count, k);
        parameters.Validate();
        var f32 = queries.ElementType == ElementType.Float32 ? queries : queries.ToFloat32();
        Parallel.For(0, queries.Count, new ParallelOptions { MaxDegreeOfParallelism = threads == 0 ? Environment.ProcessorCount : threads },
            RentSearcher,
            (q, _, s) =>
            {
                SearchOne(f32.Float32Row(q), k, parameters, results.IdsOf(q), results.ScoresOf(q), s);
                return s;
            },
            ReturnSearcher);
        return results;
    }

    private void CheckK(int k, Span<int> ids, Span<float> scores)
    {
        Guard.ValidK(k);
        if (k > Count) Guard.ThrowInvalid($"k = {k} is larger than the {Count} vectors in the index");
        if (ids.Length < k || scores.Length < k)
            Guard.ThrowInvalid($"output spans must hold k = {k} entries, got {ids.Length} ids and {scores.Length} scores");
    }

    private void PrepareQuery(ReadOnlySpan<float> query, SpannSearcher s)
    {
        Guard.SameDimension(Dimension, query.Length, "the query");
        if (!RowKernel.IsFinite<Float32Decoder, float>(ref MemoryMarshal.GetReference(query), query.Length))
            Guard.ThrowInvalid("the query contains NaN or infinity");
        var q = s.Query;
        query.CopyTo(q);
        float norm = DenseKernels.SquaredNorm(q);
        if (Metric == Metric.Cosine)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(q, DenseKernels.InverseNorm(norm), q);
            norm = norm > 0 ? 1f : 0f;
        }
        s.QuerySquaredNorm = norm;
    }

    private int SelectHeadsPrepared(SpannSearchParameters p, SpannSearcher s)
    {
        int want = Math.Min(p.Heads, Heads.Count);
        s.EnsureHeads(Math.Max(want, 1));
        int found;
        bool l2 = Metric == Metric.L2, cosine = Metric == Metric.Cosine;
        if (Heads.Element == ElementType.Float16)
        {
            found = l2
                ? GraphSearch(new HeadScorer<SquaredL2Accumulator, Float16Decoder, Half> { Rows = Heads.Float16!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Negate = true }, p, want, s)
                : GraphSearch(new HeadScorer<DotProductAccumulator, Float16Decoder, Half> { Rows = Heads.Float16!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Scale = cosine }, p, want, s);
        }
        else if (Heads.Element == ElementType.UInt8)
        {
            found = l2
                ? GraphSearch(new HeadScorer<SquaredL2Accumulator, UInt8Decoder, byte> { Rows = Heads.UInt8!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Negate = true }, p, want, s)
                : GraphSearch(new HeadScorer<DotProductAccumulator, UInt8Decoder, byte> { Rows = Heads.UInt8!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Scale = cosine }, p, want, s);
        }
        else
        {
            found = l2
                ? GraphSearch(new HeadScorer<SquaredL2Accumulator, Float32Decoder, float> { Rows = Heads.Float32!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Negate = true }, p, want, s)
                : GraphSearch(new HeadScorer<DotProductAccumulator, Float32Decoder, float> { Rows = Heads.Float32!, Query = s.Query, InverseNorms = Heads.InverseNorms, Dimension = Dimension, Scale = cosine }, p, want, s);
        }
        return Prune(s.HeadGoodness.AsSpan(0, found), p.PruneEpsilon);
    }

    private int GraphSearch<TScorer>(TScorer scorer, SpannSearchParameters p, int want, SpannSearcher s) where TScorer : struct, INodeScorer =>
        Graph.Search(ref scorer, p.BeamFor(want), want, s.Graph, s.HeadIds, s.HeadGoodness, _entryHeads);

    /// <summary>eps2: how many of the (best-first) heads survive query-aware pruning, judged in the metric's own distance.</summary>
    private int Prune(ReadOnlySpan<float> goodness, double epsilon)
    {
        if (epsilon < 0 || goodness.Length <= 1) return goodness.Length;
        float best = goodness[0];
        for (int j = 1; j < goodness.Length; j++)
        {
            float g = goodness[j];
            bool keep = Metric switch
            {
                // goodness = -squared distance: compare Euclidean distances.
                Metric.L2 => MathF.Sqrt(-g) <= (1 + epsilon) * MathF.Sqrt(-best),
                Metric.Cosine => 1 - g <= (1 + epsilon) * (1 - best),
                _ => best - g <= epsilon * MathF.Abs(best),
            };
            if (!keep) return j;
        }
        return goodness.Length;
    }

    private int ScanPostings(ReadOnlySpan<int> heads, int k, SpannSearchParameters p, Span<int> ids, Span<float> scores, SpannSearcher s)
    {
        var store = Store(p.Io);
        bool rerank = Manifest.Rerank;
        int capacity = rerank ? Math.Min(Count, k * p.RerankFactor) : k;
        var heap = s.Heap(capacity);
        int epoch = s.NextEpoch();
        store.Begin(heads, s);
        try
        {
            for (int i = 0; i < heads.Length; i++)
            {
                int posting = heads[i];
                int count = Postings.Counts[posting];
                if (count == 0) continue;
                Scan(store.Get(i, s), count, s, heap, epoch);
            }
        }
        finally
        {
            store.End(s);
        }
        if (rerank) heap = Rerank(heap, k, p, s);
        s.EnsureCandidates(k);
        int found = heap.DrainSorted(ids, scores);
        bool l2 = Metric == Metric.L2;
        for (int i = 0; i < found; i++) if (l2) scores[i] = -scores[i];
        ids[found..k].Fill(-1);
        scores[found..k].Fill(float.NaN);
        return found;
    }

    private void Scan(ReadOnlySpan<byte> posting, int count, SpannSearcher s, TopKHeap heap, int epoch)
    {
        int d = Dimension;
        var rowIds = MemoryMarshal.Cast<byte, int>(posting[..(count * 4)]);
        ref byte vectors = ref Unsafe.AsRef(in posting[Layout.VectorsOffset(count)]);
        ref float query = ref MemoryMarshal.GetArrayDataReference(s.Query);
        ref float scoreRef = ref MemoryMarshal.GetArrayDataReference(s.Scores);
        bool l2 = Metric == Metric.L2;
        switch (Layout.Storage)
        {
            case SpannStorage.Float32:
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Float32Decoder, float>(ref query, ref Unsafe.As<byte, float>(ref vectors), count, d, ref scoreRef);
                else RowKernel.ScoreRows<DotProductAccumulator, Float32Decoder, float>(ref query, ref Unsafe.As<byte, float>(ref vectors), count, d, ref scoreRef);
                break;
            case SpannStorage.Float16:
                if (l2) RowKernel.ScoreRows<SquaredL2Accumulator, Float16Decoder, Half>(ref query, ref Unsafe.As<byte, Half>(ref vectors), count, d, ref scoreRef);
                else RowKernel.ScoreRows<DotProductAccumulator, Float16Decoder, Half>(ref query, ref Unsafe.As<byte, Half>(ref vectors), count, d, ref scoreRef);
                break;
            default:
                RowKernel.ScoreRows<DotProductAccumulator, Int8Decoder, sbyte>(ref query, ref Unsafe.As<byte, sbyte>(ref vectors), count, d, ref scoreRef);
                break;
        }
        var sc = s.Scores.AsSpan(0, count);
        if (Layout.Storage == SpannStorage.Int8)
        {
            var factors = MemoryMarshal.Cast<byte, float>(posting.Slice(PostingLayout.FactorOffset(count), count * 4));
            if (l2)
            {
                var norms = MemoryMarshal.Cast<byte, float>(posting.Slice(PostingLayout.SquaredNormOffset(count), count * 4));
                float qn = s.QuerySquaredNorm;
                for (int r = 0; r < count; r++) sc[r] = -(qn - 2 * factors[r] * sc[r] + norms[r]);
            }
            else for (int r = 0; r < count; r++) sc[r] *= factors[r];
        }
        else if (l2)
        {
            for (int r = 0; r < count; r++) sc[r] = -sc[r];
        }
        else if (Metric == Metric.Cosine)
        {
            var factors = MemoryMarshal.Cast<byte, float>(posting.Slice(PostingLayout.FactorOffset(count), count * 4));
            for (int r = 0; r < count; r++) sc[r] *= factors[r];
        }

        var stamps = s.Stamps;
        for (int r = 0; r < count; r++)
        {
            float g = sc[r];
            if (!(g > heap.Threshold) && heap.IsFull) continue;
            int id = rowIds[r];
            if (stamps[id] == epoch) continue;
            stamps[id] = epoch;
            heap.Push(id, g);
        }
    }

    /// <summary>Re-scores the quantized candidates exactly from the full-precision rows (read as one batch) and keeps the best k.</summary>
    private unsafe TopKHeap Rerank(TopKHeap candidates, int k, SpannSearchParameters p, SpannSearcher s)
    {
        int n = candidates.Count;
        s.EnsureCandidates(Math.Max(n, k));
        candidates.DrainSorted(s.CandidateIds, s.CandidateGoodness);
        var final = s.Heap(k);
        if (n == 0) return final;
        int rowBytes = _fullRowBytes;
        long span = PostingLayout.AlignUp(rowBytes, PostingLayout.PageBytes) + PostingLayout.PageBytes;
        if (p.Io == PostingIoMode.Memory)
        {
            for (int i = 0; i < n; i++)
            {
                int id = s.CandidateIds[i];
                var row = new ReadOnlySpan<byte>(_fullMemory!.Pointer + SpannFormat.DataOffset + (long)id * rowBytes, rowBytes);
                final.Push(id, ExactGoodness(row, s));
            }
            return final;
        }
        var file = p.Io == PostingIoMode.Direct ? _fullDirect! : _fullBuffered!;
        var (buffer, batch) = s.Rerank(n, span * n, _readWorkers!.Dispatch);
        batch.Begin(file);
        for (int i = 0; i < n; i++)
        {
            long at = SpannFormat.DataOffset + (long)s.CandidateIds[i] * rowBytes;
            long first = at / PostingLayout.PageBytes * PostingLayout.PageBytes;
            long last = PostingLayout.AlignUp(at + rowBytes, PostingLayout.PageBytes);
            batch.Add(buffer.Pointer + i * span, (int)(last - first), first);
        }
        batch.Issue();
        try
        {
            for (int i = 0; i < n; i++)
            {
                batch.WaitFor(i);
                long at = SpannFormat.DataOffset + (long)s.CandidateIds[i] * rowBytes;
                long within = at % PostingLayout.PageBytes;
                var row = new ReadOnlySpan<byte>(buffer.Pointer + i * span + within, rowBytes);
                final.Push(s.CandidateIds[i], ExactGoodness(row, s));
            }
        }
        finally
        {
            batch.Drain();
        }
        return final;
    }

    private float ExactGoodness(ReadOnlySpan<byte> row, SpannSearcher s)
    {
        ReadOnlySpan<float> q = s.Query;
        return (Manifest.SourceElement, Metric) switch
        {
            (ElementType.Float32, Metric.L2) => -DenseKernels.SquaredL2(q, MemoryMarshal.Cast<byte, float>(row)),
            (ElementType.Float32, Metric.InnerProduct) => DenseKernels.Dot(q, MemoryMarshal.Cast<byte, float>(row)),
            (ElementType.Float32, _) => DenseKernels.Cosine(q, MemoryMarshal.Cast<byte, float>(row)),
            (ElementType.Float16, Metric.L2) => -DenseKernels.SquaredL2(q, MemoryMarshal.Cast<byte, Half>(row)),
            (ElementType.Float16, Metric.InnerProduct) => DenseKernels.Dot(q, MemoryMarshal.Cast<byte, Half>(row)),
            (ElementType.Float16, _) => DenseKernels.Cosine(q, MemoryMarshal.Cast<byte, Half>(row)),
            (ElementType.UInt8, Metric.L2) => -DenseKernels.SquaredL2(q, row),
            (ElementType.UInt8, Metric.InnerProduct) => DenseKernels.Dot(q, row),
            (ElementType.UInt8, _) => DenseKernels.Cosine(q, row),
            (_, Metric.L2) => -DenseKernels.SquaredL2(q, MemoryMarshal.Cast<byte, sbyte>(row)),
            (_, Metric.InnerProduct) => DenseKernels.Dot(q, MemoryMarshal.Cast<byte, sbyte>(row)),
            _ => DenseKernels.Cosine(q, MemoryMarshal.Cast<byte, sbyte>(row)),
        };
    }

    public void Dispose()
    {
        _buffered?.Dispose();
        _direct?.Dispose();
        _memory?.Dispose();
        _fullBuffered?.Dispose();
        _fullDirect?.Dispose();
        (_fullMemory as IDisposable)?.Dispose();
        while (_pool.TryTake(out var s)) s.Dispose();
        _readWorkers?.Dispose();
    }
}
