using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>What the sparse readers accept and how much they read.</summary>
public sealed record SparseReadOptions
{
    public static readonly SparseReadOptions Default = new();
    public const int DefaultUnknownTokenSamples = 10;

    /// <summary>Read at most this many rows (documents, queries) from the start (null: all).</summary>
    public int? MaxRows { get; init; }

    /// <summary>Accept negative weights (learned-sparse weights are non-negative, so by default a negative one is an error).</summary>
    public bool AllowNegativeWeights { get; init; }

    /// <summary>A token missing from the vocabulary is an error (default: counted in the dataset's report and dropped).</summary>
    public bool StrictVocabulary { get; init; }

    /// <summary>How many distinct unknown tokens to keep as examples for the report.</summary>
    public int UnknownTokenSamples { get; init; } = DefaultUnknownTokenSamples;

    public void Validate()
    {
        if (MaxRows is < 0) Guard.ThrowInvalid($"MaxRows must be >= 0, got {MaxRows}");
        if (UnknownTokenSamples < 0) Guard.ThrowInvalid($"UnknownTokenSamples must be >= 0, got {UnknownTokenSamples}");
    }
}
