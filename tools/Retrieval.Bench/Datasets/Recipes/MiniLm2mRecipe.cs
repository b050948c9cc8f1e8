using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Retrieval.Bench.Datasets.Sources;
using Retrieval.Index.Errors;
using Retrieval.Index.Exact;
using Retrieval.Index.Formats;
using Retrieval.Index.Vectors;

namespace Retrieval.Bench.Datasets.Recipes;

/// <summary>
/// minilm-2m: a million-scale dense set synthesised from the real minilm-passages vectors (method
/// "synth-minilm"). The full set has <see cref="FullRows"/> global rows: rows 0..159,999 are the real base
/// vectors, bit for bit and in order; every later row g is a synthetic neighbour of one real row,
/// <c>y = normalise(p + t)</c>, where p is a real row drawn from SplitMix64(seed, g) and t is the part of a
/// N(0, sigma^2 I) draw (also seeded by g) orthogonal to p, so |t| is about sigma sqrt(d - 1) and the angle to the
/// parent about atan(sigma sqrt(d - 1)). Each row depends only on (seed, sigma, g): the thread count, the chunking
/// and <c>--rows</c> do not change it. <c>--rows N</c> below the full count keeps a seeded random sample of N global
/// rows (ascending), which is how the calibration sample is made; above it, the synthetic rows go on.
/// Queries are the first <c>--queries</c> real held-out minilm-passages queries (never base rows). The base is
/// written and scanned in chunks of <see cref="ChunkRows"/> rows: each chunk is generated on all threads, appended to
/// base.npy and searched exactly (ExactDenseIndex, cosine over the stored float16 values) for every query, and the
/// per-chunk top-100 lists are merged (ties by lower id), so the whole base is never in memory.
/// The default sigma is calibrated so that SPANN at the heads count that gives recall@10 0.95 on the real set gives
/// about the same on a 160,000-row sample (datasets/README.md has the measurement).
/// </summary>
internal static class MiniLm2mRecipe
{
    public const string SourceName = "minilm-passages";
    public const int FullRows = 2_000_000;
    public const int DefaultQueries = 1000;
    public const int K = 100;
    public const ulong DefaultSeed = 20_261_207;
    /// <summary>
    /// Per-coordinate standard deviation of the tangent noise, calibrated (datasets/README.md): SPANN at 64 heads gives
    /// recall@10 0.956 on minilm-passages and 0.9544 on a 160,000-row sample; mean cosine to the parent 0.86.
    /// </summary>
    public const double DefaultSigma = 0.03;
    /// <summary>Rows generated, written and scanned together (50 MB of float16 at 384 dimensions).</summary>
    internal const int ChunkRows = 65_536;

    public static void Run(RecipeContext context)
    {
        var options = context.Options;
        int rows = options.Rows ?? FullRows;
        int queryCount = options.QueryCount ?? DefaultQueries;
        double sigma = options.Sigma ?? DefaultSigma;
        ulong seed = options.Seed ?? DefaultSeed;
        if (rows < K) Guard.ThrowInvalid($"rows must be >= {K} (the ground truth's k), got {rows}");
        if (queryCount < 1) Guard.ThrowInvalid($"queries must be >= 1, got {queryCount}");
        if (!double.IsFinite(sigma) || sigma < 0) Guard.ThrowInvalid($"sigma must be a finite number >= 0, got {sigma}");
        if (options.Threads < 0) Guard.ThrowInvalid($"threads must be >= 0 (0 = all cores), got {options.Threads}");

        var source = context.FindExisting(SourceName)
            ?? throw context.NotReachable(context.Entry.Name, $"it is synthesised from {SourceName}, which was not found");
        var sourceManifest = DatasetManifest.Load(source.Directory);
        if (sourceManifest.Base is null || sourceManifest.Queries is null)
            throw new DataFormatException(sourceManifest.ManifestPath, "lists no base or queries file", kind: ErrorKind.Incompatible);
        context.Report($"read {SourceName}");
        var real = DenseVectorFile.Read(sourceManifest.Base.Path);
        var queries = DenseVectorFile.Read(sourceManifest.Queries.Path, new DenseReadOptions { MaxRows = queryCount });
        if (real.ElementType != ElementType.Float16 || queries.ElementType != ElementType.Float16 || real.Dimension != queries.Dimension)
            throw new DataFormatException(sourceManifest.Base.Path,
                $"expected float16 base and queries of one dimension, found {real.ElementType.ToName()} x {real.Dimension} and {queries.ElementType.ToName()} x {queries.Dimension}",
                kind: ErrorKind.Incompatible);
        if (queries.Count < queryCount)
            throw new DataFormatException(sourceManifest.Queries.Path, $"holds {queries.Count} queries, {queryCount} asked for", kind: ErrorKind.Incompatible);

        int fullRows = Math.Max(Math.Max(rows, FullRows), real.Count);
        var globalRows = rows == fullRows ? null : Sample(rows, fullRows, seed);
        var generator = new Generator(real, sigma, seed);
        var ids = Generate(context, generator, globalRows, rows, queries, Path.Combine(context.Staging, "base.npy"), out var stats);
        DenseVectorFile.Write(Path.Combine(context.Staging, "queries.npy"), queries);
        IntMatrixFile.Write(Path.Combine(context.Staging, "groundtruth.ivecs"), ids);

        long realKept = 0;
        if (globalRows is null) realKept = real.Count;
        else foreach (int g in globalRows) if (g < real.Count) realKept++;
        WriteManifest(context, sourceManifest, rows, fullRows, real.Count, realKept, queryCount, sigma, seed, stats);
        context.Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"{rows:N0} rows ({realKept:N0} real) of {fullRows:N0}, sigma {sigma}, seed {seed}, {queryCount:N0} queries; from {source.Directory}"));
    }

    /// <summary>The prepare command that gives this variant, every choice spelled out (kept in the manifest as prepared.by).</summary>
    public static string Command(PrepareOptions options) => string.Create(CultureInfo.InvariantCulture,
        $"retrieval datasets prepare minilm-2m --rows {options.Rows ?? FullRows} --sigma {options.Sigma ?? DefaultSigma} --seed {options.Seed ?? DefaultSeed} --queries {options.QueryCount ?? DefaultQueries}");

    /// <summary>
    /// Where `prepare minilm-2m` writes by default: PreparedRoot/minilm-2m for the full set, minilm-2m-rowsN for a
    /// --rows variant, so a sample never shadows the full set.
    /// </summary>
    public static string DefaultDirectoryName(PrepareOptions options) =>
        options.Rows is { } rows && rows != FullRows ? $"minilm-2m-rows{rows}" : "minilm-2m";

    /// <summary>A seeded random choice of <paramref name="count"/> of [0, total), ascending (partial Fisher-Yates, SplitMix64).</summary>
    internal static int[] Sample(int count, int total, ulong seed)
    {
        var all = new int[total];
        for (int i = 0; i < total; i++) all[i] = i;
        ulong state = seed ^ 0x5A4D504C45524F57UL;
        for (int i = 0; i < count; i++)
        {
            int j = i + (int)(((UInt128)SeededShuffle.Next(ref state) * (ulong)(total - i)) >> 64);
            (all[i], all[j]) = (all[j], all[i]);
        }
        var chosen = all.AsSpan(0, count).ToArray();
        Array.Sort(chosen);
        return chosen;
    }

    internal readonly record struct Stats(double MeanParentCosine, double MinParentCosine, long SyntheticRows);

    /// <summary>Streams the base into <paramref name="path"/> chunk by chunk and returns the exact top-k ids of every query.</summary>
    private static IntMatrix Generate(RecipeContext context, Generator generator, int[]? globalRows, int rows, DenseVectors queries,
        string path, out Stats stats)
    {
        int d = generator.Dimension;
        int threads = context.Options.Threads == 0 ? Environment.ProcessorCount : context.Options.Threads;
        var merged = new TopK(queries.Count, K);
        double cosineSum = 0, cosineMin = 1;
        long synthetic = 0;
        var gate = new object();
        const string stage = "synthesise rows + exact top-100 cosine";
        context.Report(stage, 0, rows, "rows");
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            file.Write(NpyHeader.Encode(StoredElement.Float16, rows, d));
            for (int start = 0; start < rows; start += ChunkRows)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                int count = Math.Min(ChunkRows, rows - start);
                var raw = GC.AllocateUninitializedArray<byte>(count * d * sizeof(ushort));
                Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = context.Cancellation },
                    () => (Scratch: new double[2 * d], Sum: 0.0, Min: 1.0, Synthetic: 0L),
                    (i, _, local) =>
                    {
                        int g = globalRows is null ? start + i : globalRows[start + i];
                        var target = MemoryMarshal.Cast<byte, Half>(raw.AsSpan(i * d * sizeof(ushort), d * sizeof(ushort)));
                        double cosine = generator.Row(g, target, local.Scratch);
                        if (g >= generator.RealRows)
                        {
                            local.Sum += cosine;
                            local.Min = Math.Min(local.Min, cosine);
                            local.Synthetic++;
                        }
                        return local;
                    },
                    local =>
                    {
                        lock (gate)
                        {
                            cosineSum += local.Sum;
                            cosineMin = Math.Min(cosineMin, local.Min);
                            synthetic += local.Synthetic;
                        }
                    });
                file.Write(raw);
                var chunk = new DenseVectors(ElementType.Float16, count, d, raw);
                var results = new ExactDenseIndex(chunk, Metric.Cosine).Search(queries, K, context.Options.Threads);
                merged.Merge(results.Ids, results.Scores, start);
                context.Report(stage, start + count, rows, "rows");
            }
            file.Flush(flushToDisk: true);
        }
        stats = new Stats(synthetic == 0 ? 1 : cosineSum / synthetic, cosineMin, synthetic);
        return new IntMatrix(queries.Count, K, merged.Ids);
    }

    private static void WriteManifest(RecipeContext context, DatasetManifest source, int rows, int fullRows, int realRows, long realKept,
        int queryCount, double sigma, ulong seed, Stats stats)
    {
        var manifest = ManifestWriter.FromCatalog(context.Entry);
        if (rows != FullRows || queryCount != DefaultQueries)
            manifest["description"] = $"{rows:N0}-row variant of minilm-2m ({(rows < fullRows ? "a seeded random sample of its rows" : "all rows")}), {queryCount:N0} queries; see synthesis";
        manifest["base"]!["count"] = rows;
        manifest["base"]!["rows"] = rows == fullRows
            ? $"global rows 0..{fullRows - 1}: 0..{realRows - 1} real ({SourceName} base, same order), the rest synthetic"
            : $"a seeded random sample (SplitMix64, seed {seed}) of {rows:N0} of the {fullRows:N0} global rows, ascending; {realKept:N0} of them real";
        manifest["queries"]!["count"] = queryCount;
        manifest["queries"]!["rows"] = $"{SourceName} queries 0..{queryCount - 1} (real held-out texts, not base rows)";
        manifest["groundtruth"]!["computed_on"] = "the float16 base and queries converted to float32, cosine, ties by lower id; exact, streamed over chunks of the base";
        manifest["synthesis"] = new JsonObject
        {
            ["method"] = "global row g < real rows: the real vector; g >= real rows: y = normalise(p + t), p = real row chosen by SplitMix64(seed, g) (normalised), " +
                "t = n - (n.p) p with n ~ N(0, sigma^2 I) seeded by g (Box-Muller); stored float16",
            ["sigma"] = sigma,
            ["seed"] = seed,
            ["rows"] = rows,
            ["full_rows"] = fullRows,
            ["real_rows"] = realRows,
            ["real_rows_kept"] = realKept,
            ["synthetic_rows"] = stats.SyntheticRows,
            ["parent_cosine_mean"] = Math.Round(stats.MeanParentCosine, 4),
            ["parent_cosine_min"] = Math.Round(stats.MinParentCosine, 4),
            ["from"] = source.Directory,
        };
        manifest["calibration"] = sigma == DefaultSigma
            ? string.Create(CultureInfo.InvariantCulture, $"sigma {DefaultSigma} (the default) is calibrated: default SPANN build, 1,000 queries, k 10, M 64 heads: recall@10 0.956 on minilm-passages, 0.9544 on a 160,000-row sample of this set (M 48: 0.9476 / 0.9385, M 80: 0.9613 / 0.9622); commands in datasets/README.md")
            : string.Create(CultureInfo.InvariantCulture, $"sigma {sigma} is not the calibrated default ({DefaultSigma}); see datasets/README.md");
        manifest["prepared"] = new JsonObject
        {
            ["by"] = Command(context.Options),
            ["at"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        ManifestWriter.Write(context.Staging, manifest);
    }

    /// <summary>Makes global row g from (seed, sigma, g) alone.</summary>
    internal sealed class Generator(DenseVectors real, double sigma, ulong seed)
    {
        public int Dimension => real.Dimension;
        public int RealRows => real.Count;

        /// <summary>Writes row g into <paramref name="target"/>; returns its cosine with its parent (1 for a real row).</summary>
        public double Row(int g, Span<Half> target, double[] scratch)
        {
            int d = real.Dimension;
            if (g < real.Count)
            {
                real.Float16Row(g).CopyTo(target);
                return 1;
            }
            var p = scratch.AsSpan(0, d);
            var n = scratch.AsSpan(d, d);
            ulong state = seed ^ ((ulong)g * 0xD1B54A32D192ED03UL);
            SeededShuffle.Next(ref state);
            int parent = (int)(((UInt128)SeededShuffle.Next(ref state) * (ulong)real.Count) >> 64);
            var row = real.Float16Row(parent);
            double norm = 0;
            for (int j = 0; j < d; j++)
            {
                p[j] = (double)row[j];
                norm += p[j] * p[j];
            }
            double inverse = norm > 0 ? 1 / Math.Sqrt(norm) : 0;
            for (int j = 0; j < d; j++) p[j] *= inverse;
            for (int j = 0; j < d; j += 2)
            {
                ulong bits = SeededShuffle.Next(ref state);
                double u1 = ((bits >> 32) + 1) * (1.0 / 4294967296.0); // (0, 1]
                double u2 = (bits & 0xFFFFFFFFUL) * (1.0 / 4294967296.0);
                double r = sigma * Math.Sqrt(-2 * Math.Log(u1));
                var (sin, cos) = Math.SinCos(2 * Math.PI * u2);
                n[j] = r * cos;
                if (j + 1 < d) n[j + 1] = r * sin;
            }
            double along = 0;
            for (int j = 0; j < d; j++) along += n[j] * p[j];
            double yNorm = 0, dot = 0;
            for (int j = 0; j < d; j++)
            {
                double y = p[j] + n[j] - along * p[j];
                n[j] = y;
                yNorm += y * y;
                dot += y * p[j];
            }
            double yInverse = 1 / Math.Sqrt(yNorm);
            for (int j = 0; j < d; j++) target[j] = (Half)(n[j] * yInverse);
            return dot * yInverse;
        }
    }

    /// <summary>Running exact top-k per query over chunks in row order: best score first, ties by lower id.</summary>
    private sealed class TopK(int queries, int k)
    {
        public int[] Ids { get; } = Enumerable.Repeat(-1, queries * k).ToArray();
        private readonly float[] _scores = new float[queries * k];
        private readonly int[] _count = new int[queries];
        private readonly int[] _ids = new int[k];
        private readonly float[] _merged = new float[k];

        /// <summary>Folds one chunk's sorted top-k (ids relative to <paramref name="offset"/>, -1 = none) into the running lists.</summary>
        public void Merge(int[] chunkIds, float[] chunkScores, int offset)
        {
            for (int q = 0; q < _count.Length; q++)
            {
                int a = 0, b = 0, n = 0, have = _count[q];
                int baseAt = q * k;
                while (n < k)
                {
                    bool moreA = a < have;
                    bool moreB = b < k && chunkIds[baseAt + b] >= 0;
                    if (!moreA && !moreB) break;
                    // Earlier chunks hold lower ids, so a tie goes to the running list.
                    if (moreA && (!moreB || _scores[baseAt + a] >= chunkScores[baseAt + b]))
                    {
                        _ids[n] = Ids[baseAt + a];
                        _merged[n++] = _scores[baseAt + a++];
                    }
                    else
                    {
                        _ids[n] = chunkIds[baseAt + b] + offset;
                        _merged[n++] = chunkScores[baseAt + b++];
                    }
                }
                _ids.AsSpan(0, n).CopyTo(Ids.AsSpan(baseAt, n));
                _merged.AsSpan(0, n).CopyTo(_scores.AsSpan(baseAt, n));
                _count[q] = n;
            }
        }
    }
}
