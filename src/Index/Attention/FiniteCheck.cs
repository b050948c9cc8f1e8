using Retrieval.Index.Errors;

namespace Retrieval.Index.Attention;

/// <summary>NaN/infinity screening for caller-supplied vectors: one bad value would poison every score it touches.</summary>
internal static class FiniteCheck
{
    /// <summary>Index of the first NaN or infinite value, or -1.</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) return i;
        }
        return -1;
    }

    public static void ThrowIfNotFinite(ReadOnlySpan<float> values, int dimension, string what)
    {
        int bad = FirstNonFinite(values);
        if (bad >= 0)
            Guard.ThrowInvalid($"{what} contain {values[bad]} at row {bad / dimension}, column {bad % dimension}: NaN and infinity are not allowed");
    }
}
