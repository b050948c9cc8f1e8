using System.Buffers.Binary;
using Retrieval.Index.Errors;

namespace Retrieval.Tests.Formats;

/// <summary>Builders for hand-made binary files and the checks every malformed-input test makes.</summary>
internal static class FormatAssert
{
    /// <summary>The error is a DataFormatException whose message names the file and the row/offset given, plus each fragment.</summary>
    public static DataFormatException Fails(Action act, string path, long? row, long? byteOffset, params string[] fragments)
    {
        var ex = Assert.Throws<DataFormatException>(act);
        Assert.Equal(path, ex.FilePath);
        Assert.Contains(path, ex.Message);
        if (row is not null)
        {
            Assert.Equal(row, ex.Row);
            Assert.Contains($"row {row}", ex.Message);
        }
        if (byteOffset is not null)
        {
            Assert.Equal(byteOffset, ex.ByteOffset);
            Assert.Contains($"byte offset {byteOffset}", ex.Message);
        }
        foreach (var fragment in fragments) Assert.Contains(fragment, ex.Message);
        return ex;
    }

    public static byte[] Int32s(params int[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }

    public static byte[] Int64s(params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), values[i]);
        return bytes;
    }

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }

    /// <summary>An fvecs row: int32 dimension then the floats.</summary>
    public static byte[] FvecsRow(params float[] values) => [.. Int32s(values.Length), .. Floats(values)];

    /// <summary>A numpy v1 header exactly as numpy writes it (dict padded with spaces to 64 bytes, newline-terminated).</summary>
    public static byte[] NpyHeader(string dict, int major = 1)
    {
        int preamble = major == 1 ? 10 : 12;
        int total = (preamble + dict.Length + 1 + 63) / 64 * 64;
        var text = dict + new string(' ', total - preamble - dict.Length - 1) + "\n";
        var header = new byte[total];
        header[0] = 0x93;
        "NUMPY"u8.CopyTo(header.AsSpan(1));
        header[6] = (byte)major;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)text.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)text.Length);
        System.Text.Encoding.Latin1.GetBytes(text, header.AsSpan(preamble));
        return header;
    }

    public static string Write(string dir, string name, byte[] contents)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, contents);
        return path;
    }
}
