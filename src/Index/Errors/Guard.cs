using System.Diagnostics.CodeAnalysis;

namespace Retrieval.Index.Errors;

/// <summary>Throw helpers: keep hot methods small and messages uniform.</summary>
public static class Guard
{
    [DoesNotReturn]
    public static void ThrowInvalid(string message) => throw new RetrievalException(ErrorKind.InvalidInput, message);

    [DoesNotReturn]
    public static T ThrowInvalid<T>(string message) => throw new RetrievalException(ErrorKind.InvalidInput, message);

    /// <summary>k must be at least 1; k larger than the collection is allowed (results are padded with id -1).</summary>
    public static void ValidK(int k, string name = "k")
    {
        if (k <= 0) ThrowInvalid($"{name} must be >= 1, got {k}");
    }

    public static void SameDimension(int expected, int actual, string what)
    {
        if (expected != actual)
            ThrowInvalid($"dimension mismatch: {what} has dimension {actual}, expected {expected}");
    }
}
