using Retrieval.Index.Vectors;

namespace Retrieval.Index.Formats;

/// <summary>What a dense vector file holds, from its header (and length) alone.</summary>
/// <param name="DataOffset">Byte offset of row 0 (its dimension prefix for vecs files; in the decompressed stream when <paramref name="Compressed"/>).</param>
/// <param name="RowStrideBytes">Bytes per row on disk, including a vecs row's 4-byte dimension prefix.</param>
public sealed record DenseFileInfo(
    string Path,
    MatrixFileFormat Format,
    ElementType ElementType,
    long Count,
    int Dimension,
    long DataOffset,
    int RowStrideBytes,
    bool Compressed)
{
    /// <summary>Bytes of one row's values in memory (no prefix).</summary>
    public int RowBytes => Dimension * ElementType.SizeInBytes();

    /// <summary>Bytes of all rows' values in memory.</summary>
    public long DataBytes => Count * RowBytes;
}
