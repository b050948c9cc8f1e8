using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>How much of a dense (or score) matrix file to read and which values to accept.</summary>
public sealed record DenseReadOptions
{
    public static readonly DenseReadOptions Default = new();

    /// <summary>Read at most this many rows from the start of the file (null: all).</summary>
    public long? MaxRows { get; init; }

    /// <summary>Accept NaN and +-Inf in float data (default: reject with the row and column).</summary>
    public bool AllowNonFinite { get; init; }

    public void Validate()
    {
        if (MaxRows is < 0) Guard.ThrowInvalid($"MaxRows must be >= 0, got {MaxRows}");
    }
}
