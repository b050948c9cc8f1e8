using System.Runtime.CompilerServices;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Attention;

/// <summary>
/// The keys and values of one KV head of one sequence, float32, position = row. Shared by every query head of a
/// GQA group: one copy of K and V per KV head. Keys live in a <see cref="NodeBlock"/> whose record per position
/// also holds the adjacency list of every query-head graph built over this KV head, so a graph search finds a
/// key and its neighbour list in neighbouring cache lines. Values are a plain row-major array (read only for the
/// few retrieved keys). Grows by appending rows; a single writer appends while readers are kept out by the owner
/// (the embedded cache holds a per-sequence lock).
/// </summary>
public sealed class KeyValueStore
{
    private readonly NodeBlock _block;
    private float[] _values;

    /// <summary>Copies <paramref name="tokenCount"/> rows of keys and values (each tokenCount x dimension).</summary>
    public KeyValueStore(int dimension, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokenCount)
    {
        if (dimension <= 0) Guard.ThrowInvalid($"head dimension must be >= 1, got {dimension}");
        if (tokenCount <= 0) Guard.ThrowInvalid($"the KV cache needs at least one key, got N = {tokenCount}");
        if (keys.Length != (long)tokenCount * dimension)
            Guard.ThrowInvalid($"keys hold {keys.Length} floats, expected N x d = {tokenCount} x {dimension} = {(long)tokenCount * dimension}");
        if (values.Length != keys.Length)
            Guard.ThrowInvalid($"values hold {values.Length} floats, expected {keys.Length} (N x d, same shape as keys)");
        FiniteCheck.ThrowIfNotFinite(keys, dimension, "keys");
        FiniteCheck.ThrowIfNotFinite(values, dimension, "values");
        Dimension = dimension;
        _block = new NodeBlock(dimension, tokenCount);
        _block.AppendKeys(keys, 0, tokenCount);
        Count = tokenCount;
        _values = values.ToArray();
    }

    public int Dimension { get; }

    /// <summary>Number of positions (rows) held, prefill plus appended.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes of the keys (their part of the node block, at capacity) and values; graphs count their own slots.</summary>
    public long MemoryBytes => _block.KeyBytes + (long)_values.Length * sizeof(float);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<float> Key(int position) => _block.Key(position);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<float> Value(int position) => new(_values, position * Dimension, Dimension);

    internal NodeBlock Block => _block;

    /// <summary>Raw key rows for kernels; valid until the next append or graph attach (the block may move).</summary>
    internal KeyRows Rows => _block.Rows;

    /// <summary>Bytes the store would hold after appending <paramref name="rows"/> rows (capacity grows by doubling).</summary>
    public long MemoryBytesAfterAppend(int rows)
    {
        long needed = (long)Count + rows;
        if (needed <= _block.Capacity) return MemoryBytes;
        long capacity = Math.Max(needed, (long)_block.Capacity * 2);
        return capacity * (_block.KeyStrideBytes + (long)Dimension * sizeof(float));
    }

    /// <summary>Appends rows (keys and values each rows x dimension); returns the position of the first new row.</summary>
    public int Append(ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        if (keys.Length == 0 || keys.Length % Dimension != 0)
            Guard.ThrowInvalid($"appended keys hold {keys.Length} floats, expected a positive multiple of the head dimension {Dimension}");
        if (values.Length != keys.Length)
            Guard.ThrowInvalid($"appended values hold {values.Length} floats, expected {keys.Length} (same shape as the keys)");
        FiniteCheck.ThrowIfNotFinite(keys, Dimension, "appended keys");
        FiniteCheck.ThrowIfNotFinite(values, Dimension, "appended values");
        int rows = keys.Length / Dimension;
        int first = Count;
        long needed = (long)first + rows;
        if (needed * Dimension > Array.MaxLength || !_block.CanHold(needed))
            throw new RetrievalException(ErrorKind.ResourceExhausted, $"a KV head cannot hold more than {Math.Min(Array.MaxLength / Dimension, _block.MaxRows)} positions");
        _block.AppendKeys(keys, first, rows);
        if (needed * Dimension > _values.Length)
        {
            // Doubling keeps appends amortised O(1) per decode step.
            long capacity = Math.Min(Array.MaxLength, Math.Max(needed * Dimension, (long)_values.Length * 2));
            Array.Resize(ref _values, (int)capacity);
        }
        values.CopyTo(_values.AsSpan(first * Dimension));
        Count = first + rows;
        return first;
    }
}
