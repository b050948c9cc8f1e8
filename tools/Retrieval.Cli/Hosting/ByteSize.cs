using System.Globalization;

namespace Retrieval.Cli.Hosting;

/// <summary>Byte counts on the command line: a plain number of bytes, or a number with a K/M/G/T suffix (powers of 1024; "512M", "1.5G", "1GiB").</summary>
public static class ByteSize
{
    public static long Parse(string text, string option)
    {
        var t = text.Trim();
        if (t.EndsWith("iB", StringComparison.OrdinalIgnoreCase)) t = t[..^2];
        else if (t.EndsWith('B') || t.EndsWith('b')) t = t[..^1];
        long scale = 1;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            scale = char.ToUpperInvariant(t[^1]) switch
            {
                'K' => 1L << 10,
                'M' => 1L << 20,
                'G' => 1L << 30,
                'T' => 1L << 40,
                _ => throw new UsageException($"{option}: unknown size suffix in '{text}' (use K, M, G or T)"),
            };
            t = t[..^1];
        }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value < 0)
            throw new UsageException($"{option}: '{text}' is not a size (e.g. 1073741824, 512M, 1G)");
        double bytes = value * scale;
        if (bytes > long.MaxValue) throw new UsageException($"{option}: '{text}' is too large");
        return (long)bytes;
    }
}
