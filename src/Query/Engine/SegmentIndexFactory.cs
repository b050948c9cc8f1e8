using Retrieval.Index.Errors;
using Retrieval.Index.Formats;
using Retrieval.Index.Seismic;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Engine;

/// <summary>
/// Chooses and builds a sealed segment's indexes from the collection schema: SPANN / Seismic (written under the
/// segment's directory so a reopen finds them) for segments of at least the field's MinRows, exact in memory below
/// that; <see cref="ExactOnly"/> builds exact indexes whatever the schema says (the fallback when a build fails).
/// </summary>
internal sealed class SegmentIndexFactory(bool exactOnly = false, bool inPlaceUpdates = true)
{
    /// <summary>Manifest name of a dense SPANN index that takes in-place updates (a read-only one is "spann").</summary>
    public const string UpdatableSpannKind = "spann-fresh";

    /// <summary>Whether SPANN segments the engine builds are opened for in-place updates (SPFresh) rather than read-only.</summary>
    public bool InPlaceUpdates => inPlaceUpdates && !exactOnly;

    public const string DenseDirectory = "dense", SparseDirectory = "sparse";

    public static readonly SegmentIndexFactory ExactOnly = new(exactOnly: true);

    /// <summary>Times a persisted SPANN/Seismic index was built rather than reopened from disk.</summary>
    public long IndexBuilds => Interlocked.Read(ref _indexBuilds);
    private long _indexBuilds;

    public bool UsesSpann(CollectionSchema schema, int rows) =>
        !exactOnly && schema.Dense is { } d && d.IndexOrDefault.Kind == DenseIndexKind.Spann && rows >= d.IndexOrDefault.MinRows;

    public bool UsesSeismic(CollectionSchema schema, int rows) =>
        !exactOnly && schema.Sparse is { } s && s.IndexOrDefault.Kind == SparseIndexKind.Seismic && rows >= s.IndexOrDefault.MinRows;

    /// <summary>Whether a segment of this many rows gets at least one on-disk index (and so a segment directory).</summary>
    public bool Persists(CollectionSchema schema, int rows) => UsesSpann(schema, rows) || UsesSeismic(schema, rows);

    public IDenseSegmentIndex BuildDense(CollectionSchema schema, DenseVectors vectors, string? segmentDirectory)
    {
        var field = schema.Dense!;
        if (!UsesSpann(schema, vectors.Count) || segmentDirectory is null) return ExactSegmentIndexes.BuildDense(vectors, field.Metric);
        var settings = field.IndexOrDefault;
        var directory = Path.Combine(segmentDirectory, DenseDirectory);
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        SpannBuilder.Build(vectors, directory, settings.SegmentBuildOptions(field.Metric));
        Interlocked.Increment(ref _indexBuilds);
        return OpenSpann(directory, field, vectors.Count);
    }

    /// <summary>
    /// Builds a segment's SPANN index from rows handed out one at a time: they are spooled to a .npy file in the
    /// segment directory (float16 when the posting storage is float16, so the build sees float16 input and stores
    /// it exactly, with no full-precision copy to re-rank from), the builder streams that file, and the spool is
    /// deleted. Peak heap is the builder's, not rows x dimension floats. A segment whose values overflow float16
    /// is spooled and stored as float32 instead.
    /// </summary>
    public IDenseSegmentIndex BuildSpannFromRows(CollectionSchema schema, int rows, Func<int, float[]?> denseOf, string segmentDirectory)
    {
        var field = schema.Dense!;
        var options = field.IndexOrDefault.SegmentBuildOptions(field.Metric);
        var directory = Path.Combine(segmentDirectory, DenseDirectory);
        var spool = Path.Combine(segmentDirectory, "spool.npy");
        ElementType element;
        try
        {
            element = options.Storage == SpannStorage.Float16 ? ElementType.Float16 : ElementType.Float32;
            if (!TrySpool(spool, element, field.Dimension, rows, denseOf))
            {
                element = ElementType.Float32;
                options = options with { Storage = SpannStorage.Float32 };
                TrySpool(spool, element, field.Dimension, rows, denseOf);
            }
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            SpannBuilder.Build(spool, directory, options);
        }
        finally
        {
            File.Delete(spool);
        }
        Interlocked.Increment(ref _indexBuilds);
        return InPlaceUpdates && !options.Storage.GetValueOrDefault().IsLossyFor(element) && options.Storage != SpannStorage.Int8
            ? OpenUpdatableSpann(directory, field)
            : OpenSpann(directory, field, rows);
    }

    /// <summary>Opens an engine-built SPANN index for in-place updates; errors name the directory.</summary>
    public static UpdatableSpannSegmentIndex OpenUpdatableSpann(string directory, DenseFieldSchema field)
    {
        // Room to grow: the build fills postings up to its page cap, so with the same cap every insert into a full
        // posting would split it (a split storm right after a build: thousands of queued jobs on 160,000 MiniLM rows).
        // Half again the build's pages lets postings absorb inserts before SPFresh's split keeps them bounded.
        int pages = field.IndexOrDefault.Build.PostingPages;
        var options = new UpdatableSpannOptions { PostingPages = Math.Min(4096, pages + Math.Max(1, pages / 2)) };
        var index = OpenNamed("SPANN", directory, () => UpdatableSpannIndex.Open(directory, options));
        if (index.Dimension != field.Dimension || index.Metric != field.Metric)
        {
            index.Dispose();
            throw new RetrievalException(ErrorKind.InvalidInput,
                $"SPANN index {directory} holds {index.Dimension}-d {index.Metric.ToName()} vectors, the collection's dense field is {field.Dimension}-d {field.Metric.ToName()}");
        }
        return new UpdatableSpannSegmentIndex(index, field.IndexOrDefault.SegmentSearchParameters() with { Io = PostingIoMode.Buffered });
    }

    /// <summary>Writes every row to <paramref name="path"/>; false when a value does not fit float16 output.</summary>
    private static bool TrySpool(string path, ElementType element, int dimension, int rows, Func<int, float[]?> denseOf)
    {
        using var writer = new NpyRowWriter(path, element, dimension);
        float[]? standIn = null;
        try
        {
            for (int r = 0; r < rows; r++)
            {
                var row = denseOf(r);
                if (row is null)
                {
                    // Deleted or overwritten since the rows were chosen: any finite vector keeps the row ids dense.
                    standIn ??= UnitVector(dimension);
                    row = standIn;
                }
                writer.Append(row);
            }
        }
        catch (OverflowException) when (element == ElementType.Float16)
        {
            return false;
        }
        writer.Complete();
        return true;
    }

    private static float[] UnitVector(int dimension)
    {
        var v = new float[dimension];
        v[0] = 1;
        return v;
    }

    public ISparseSegmentIndex BuildSparse(CollectionSchema schema, SparseMatrix documents, string? segmentDirectory)
    {
        var field = schema.Sparse!;
        if (!UsesSeismic(schema, documents.RowCount) || segmentDirectory is null) return ExactSegmentIndexes.BuildSparse(documents);
        var settings = field.IndexOrDefault;
        var directory = Path.Combine(segmentDirectory, SparseDirectory);
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        var built = SeismicIndex.Build(documents, settings.SegmentBuildOptions());
        built.Save(directory);
        built.Dispose();
        Interlocked.Increment(ref _indexBuilds);
        // Reopened from disk so the forward index (the largest part) is mapped from forward.bin, not held in the heap.
        return OpenSeismic(directory, field, documents.RowCount);
    }

    /// <summary>Opens a SPANN index for a segment, checking it against the schema; Incompatible/Corrupt errors name the directory.</summary>
    public static SpannSegmentIndex OpenSpann(string directory, DenseFieldSchema field, int? expectedRows)
    {
        var index = OpenNamed("SPANN", directory, () => SpannIndex.Open(directory));
        try
        {
            if (index.Dimension != field.Dimension)
                throw new RetrievalException(ErrorKind.InvalidInput, $"SPANN index {directory} has {index.Dimension}-d vectors, the collection's dense field has {field.Dimension}");
            if (index.Metric != field.Metric)
                throw new RetrievalException(ErrorKind.InvalidInput, $"SPANN index {directory} was built for metric {index.Metric.ToName()}, the collection uses {field.Metric.ToName()}");
            if (expectedRows is { } rows && index.Count != rows)
                throw new RetrievalException(ErrorKind.Corrupt, $"SPANN index {directory} has {index.Count} vectors, the segment has {rows} rows");
            var parameters = field.IndexOrDefault.SegmentSearchParameters();
            if (parameters.Io == PostingIoMode.Memory) index.Prepare(PostingIoMode.Memory);
            return new SpannSegmentIndex(index, parameters);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    public static SeismicSegmentIndex OpenSeismic(string directory, SparseFieldSchema field, int? expectedRows)
    {
        // The forward rows stay in forward.bin, mapped (page cache); posting lists and summaries are in memory.
        var index = OpenNamed("Seismic", directory, () => SeismicIndex.Open(directory, SeismicOpenOptions.MappedForward));
        if (index.VocabularySize > field.VocabularySize || expectedRows is { } r && index.Count != r)
        {
            index.Dispose();
            if (index.VocabularySize > field.VocabularySize)
                throw new RetrievalException(ErrorKind.InvalidInput, $"Seismic index {directory} has a vocabulary of {index.VocabularySize} terms, the collection's sparse field has {field.VocabularySize}");
            throw new RetrievalException(ErrorKind.Corrupt, $"Seismic index {directory} has {index.Count} documents, the segment has {expectedRows} rows");
        }
        return new SeismicSegmentIndex(index, field.IndexOrDefault.SegmentSearchParameters());
    }

    /// <summary>Opens an index directory; a missing one is NotFound, unreadable or malformed files are Corrupt, every error names it.</summary>
    private static T OpenNamed<T>(string what, string directory, Func<T> open)
    {
        if (!Directory.Exists(directory)) throw new RetrievalException(ErrorKind.NotFound, $"{what} index directory {directory} does not exist");
        try
        {
            return open();
        }
        catch (RetrievalException e) { throw Wrap(e, $"{what} index {directory}"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or FormatException)
        {
            throw new RetrievalException(ErrorKind.Corrupt, $"{what} index {directory} could not be opened: {e.Message}");
        }
    }

    private static RetrievalException Wrap(RetrievalException e, string what) =>
        e.Message.Contains(what, StringComparison.Ordinal) || e is DataFormatException ? e : new RetrievalException(e.Kind, $"{what}: {e.Message}");
}
