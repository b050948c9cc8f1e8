namespace Retrieval.Index.Vectors;

/// <summary>
/// One sparse vector as a view: strictly increasing term ids (<see cref="Indices"/>) and their weights.
/// </summary>
public readonly ref struct SparseVector
{
    public SparseVector(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        Indices = indices;
        Values = values;
    }

    public ReadOnlySpan<int> Indices { get; }
    public ReadOnlySpan<float> Values { get; }
    public int NonZeroCount => Indices.Length;
}
