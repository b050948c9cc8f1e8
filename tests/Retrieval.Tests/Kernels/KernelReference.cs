namespace Retrieval.Tests.Kernels;

/// <summary>Plain double-precision reference math and seeded random vectors for the kernel property tests.</summary>
internal static class KernelReference
{
    public static double Dot(float[] q, float[] x)
    {
        double s = 0;
        for (int i = 0; i < q.Length; i++) s += (double)q[i] * x[i];
        return s;
    }

    public static double SquaredL2(float[] q, float[] x)
    {
        double s = 0;
        for (int i = 0; i < q.Length; i++) { double d = (double)q[i] - x[i]; s += d * d; }
        return s;
    }

    public static double Cosine(float[] q, float[] x)
    {
        double qq = Dot(q, q), xx = Dot(x, x);
        return qq > 0 && xx > 0 ? Dot(q, x) / Math.Sqrt(qq * xx) : 0.0;
    }

    /// <summary>Sum of |terms|: the scale a float32 sum's rounding error is proportional to.</summary>
    public static double DotMagnitude(float[] q, float[] x)
    {
        double s = 0;
        for (int i = 0; i < q.Length; i++) s += Math.Abs((double)q[i] * x[i]);
        return s;
    }

    /// <summary>Allowed float32 error for a length-n sum whose terms have absolute sum <paramref name="magnitude"/>.</summary>
    public static double Tolerance(int n, double magnitude) => (4e-7 * Math.Sqrt(n + 1) + 1e-6) * magnitude + 1e-30;

    public static float[] RandomFloats(Random rng, int n, float scale = 1f)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return v;
    }

    public static Half[] RandomHalves(Random rng, int n)
    {
        var v = new Half[n];
        for (int i = 0; i < n; i++) v[i] = (Half)(float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    public static byte[] RandomBytes(Random rng, int n)
    {
        var v = new byte[n];
        rng.NextBytes(v);
        return v;
    }

    public static sbyte[] RandomSBytes(Random rng, int n)
    {
        var v = new sbyte[n];
        for (int i = 0; i < n; i++) v[i] = (sbyte)rng.Next(-128, 128);
        return v;
    }

    public static float[] Widen(Half[] v) { var f = new float[v.Length]; for (int i = 0; i < v.Length; i++) f[i] = (float)v[i]; return f; }
    public static float[] Widen(byte[] v) { var f = new float[v.Length]; for (int i = 0; i < v.Length; i++) f[i] = v[i]; return f; }
    public static float[] Widen(sbyte[] v) { var f = new float[v.Length]; for (int i = 0; i < v.Length; i++) f[i] = v[i]; return f; }
}
