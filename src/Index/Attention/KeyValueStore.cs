using System.Runtime.CompilerServices;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Attention;

/// <summary>
/// The keys and values of one KV head of one sequence, float32, row-major, position = row. Shared by every
/// query head of a GQA group (one copy per KV head). Grows by appending rows; a single writer appends while
/// readers are kept out by the owner (the embedded cache holds a per-sequence lock).
/// </summary>
public sealed class KeyValueStore
{
    private float[] _keys;
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
        Count = tokenCount;
        _keys = keys.ToArray();
        _values = values.ToArray();
    }

    public int Dimension { get; }

    /// <summary>Number of positions (rows) held, prefill plus appended.</summary>
    public int Count { get; private set; }

    public long MemoryBytes => ((long)_keys.Length + _values.Length) * sizeof(float);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<float> Key(int position) => new(_keys, position * Dimension, Dimension);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<float> Value(int position) => new(_values, position * Dimension, Dimension);

    /// <summary>All keys [0, Count) row-major.</summary>
    public ReadOnlySpan<float> Keys => new(_keys, 0, Count * Dimension);

    internal float[] KeyArray => _keys;

    /// <summary>Bytes the store would hold after appending <paramref name="rows"/> rows (capacity grows by doubling).</summary>
    public long MemoryBytesAfterAppend(int rows)
    {
        long needed = ((long)Count + rows) * Dimension;
        if (needed <= _keys.Length) return MemoryBytes;
        long capacity = Math.Min(Array.MaxLength, Math.Max(needed, (long)_keys.Length * 2));
        return 2 * capacity * sizeof(float);
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
        long needed = ((long)first + rows) * Dimension;
        if (needed > Array.MaxLength) throw new RetrievalException(ErrorKind.ResourceExhausted, $"a KV head cannot hold more than {Array.MaxLength / Dimension} positions");
        if (needed > _keys.Length)
        {
            // Doubling keeps appends amortised O(1) per decode step.
            long capacity = Math.Min(Array.MaxLength, Math.Max(needed, (long)_keys.Length * 2));
            Array.Resize(ref _keys, (int)capacity);
            Array.Resize(ref _values, (int)capacity);
        }
        keys.CopyTo(_keys.AsSpan(first * Dimension));
        values.CopyTo(_values.AsSpan(first * Dimension));
        Count = first + rows;
        return first;
    }
}
