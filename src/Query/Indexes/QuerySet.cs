using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Query.Indexes;

/// <summary>
/// A batch of queries of one kind: dense (kept as float32, decoded once, so per-query search never
/// converts) or sparse (CSR rows over a vocabulary). Every index takes its queries in this form.
/// </summary>
public sealed class QuerySet
{
    private QuerySet(DenseVectors? dense, SparseMatrix? sparse)
    {
        Dense = dense;
        Sparse = sparse;
    }

    public static QuerySet FromDense(DenseVectors queries) => new(queries.ToFloat32(), null);

    public static QuerySet FromSparse(SparseMatrix queries) => new(null, queries);

    /// <summary>Float32 dense queries, or null for a sparse set.</summary>
    public DenseVectors? Dense { get; }
    /// <summary>Sparse queries, or null for a dense set.</summary>
    public SparseMatrix? Sparse { get; }

    public bool IsSparse => Sparse is not null;
    public int Count => Dense?.Count ?? Sparse!.RowCount;
    /// <summary>Dense dimension, or the vocabulary size (column count) of a sparse set.</summary>
    public int Dimension => Dense?.Dimension ?? Sparse!.ColumnCount;

    /// <summary>The first <paramref name="count"/> queries (all of them when count >= Count).</summary>
    public QuerySet Take(int count)
    {
        if (count < 0) Guard.ThrowInvalid($"query limit must be >= 0, got {count}");
        return count >= Count ? this : Slice(0, count);
    }

    /// <summary>Queries [start, start + count) as their own set (row q of the slice is row start + q here).</summary>
    public QuerySet Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start > Count - count)
            Guard.ThrowInvalid($"query rows [{start}, {start + count}) are outside 0..{Count}");
        if (Dense is not null) return new QuerySet(Dense.Slice(start, count), null);
        var sparse = Sparse!;
        long first = sparse.RowOffsets[start];
        int entries = checked((int)(sparse.RowOffsets[start + count] - first));
        var offsets = new long[count + 1];
        for (int i = 0; i <= count; i++) offsets[i] = sparse.RowOffsets[start + i] - first;
        var indices = sparse.Indices.AsSpan(checked((int)first), entries).ToArray();
        var values = sparse.Values.AsSpan(checked((int)first), entries).ToArray();
        return new QuerySet(null, new SparseMatrix(count, sparse.ColumnCount, offsets, indices, values));
    }
}
