namespace Retrieval.Query.Engine;

/// <summary>
/// Bulk import: the output directories of <c>retrieval build spann</c> / <c>retrieval build seismic</c> become one
/// immutable segment of a collection, served by those indexes next to live upserts and deletes. Every field of the
/// collection needs its index (same row count when both are given). Row i of the indexes becomes the record whose
/// key is line i of <see cref="IdsPath"/>; without it, the Seismic index's document ids; without those, i itself
/// (as an integer key, or its decimal text for string keys). Attached records replace existing records with the
/// same key, can be deleted and overwritten like any other, and survive restarts (the index files are copied into
/// the engine's data directory). Their vectors stay inside the indexes, so <see cref="RetrievalEngine.Get"/>
/// returns them without vectors, and compaction keeps the segment as it is (dropping it once every row is dead).
/// </summary>
public sealed record AttachRequest
{
    /// <summary>A SPANN index directory (retrieval build spann --out), required when the collection has a dense field.</summary>
    public string? DenseIndexDirectory { get; init; }
    /// <summary>A Seismic index directory (retrieval build seismic --out), required when the collection has a sparse field.</summary>
    public string? SparseIndexDirectory { get; init; }
    /// <summary>Optional text file with one key per line, in row order.</summary>
    public string? IdsPath { get; init; }
    /// <summary>Optional text file with one payload per line, in row order (a JSON value for JSON collections; UTF-8 bytes otherwise); an empty line means no payload.</summary>
    public string? PayloadsPath { get; init; }
}

/// <param name="Rows">Records attached.</param>
/// <param name="Replaced">Of those, how many replaced an existing record with the same key.</param>
/// <param name="Segment">The new segment's sequence number in the collection's segment directory.</param>
public sealed record AttachResult(int Rows, int Replaced, int Segment);
