using System.Buffers.Binary;
using System.Text;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Storage;

/// <summary>The one checksummed framing (aligned streamed sections, small files) and the legacy header reader.</summary>
public class IndexFileFramingTests
{
    [Fact]
    public void StreamedSectionStartsOnItsAlignmentAndReadsBack()
    {
        var path = Path.Combine(TestData.TempDirectory(), "aligned.bin");
        var data = new byte[3 * 4096];
        new Random(3).NextBytes(data);
        using (var writer = new ChecksummedBinaryFile.Writer(path, "TESTALGN", 1, sections: 2))
        {
            writer.Section(new[] { 7, 8, 9 });
            long offset = writer.BeginSection(ChecksummedBinaryFile.Element.UInt8, data.Length, alignment: 4096);
            Assert.Equal(4096, offset);
            writer.Append(data.AsSpan(0, 5000));
            writer.Append(data.AsSpan(5000));
            writer.EndSection();
            writer.Commit();
        }
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(4096, data.Length).SequenceEqual(data));

        var reader = new ChecksummedBinaryFile.Reader(path, "TESTALGN", 1, 1, expectedLength: bytes.Length, expectedChecksum: null);
        Assert.Equal(new[] { 7, 8, 9 }, reader.Section<int>("ints"));
        Assert.Equal((4096L, (long)data.Length), reader.SectionExtent<byte>("data"));
        reader.ExpectEnd();

        reader = new ChecksummedBinaryFile.Reader(path, "TESTALGN", 1, 1, null, null);
        reader.Section<int>("ints");
        Assert.Equal(data, reader.Section<byte>("data"));
        reader.ExpectEnd();
    }

    [Fact]
    public void SectionMustHoldItsDeclaredBytes()
    {
        var path = Path.Combine(TestData.TempDirectory(), "short.bin");
        using var writer = new ChecksummedBinaryFile.Writer(path, "TESTSHRT", 1, sections: 1);
        writer.BeginSection(ChecksummedBinaryFile.Element.UInt8, 10);
        writer.Append(new byte[4]);
        Assert.Throws<RetrievalException>(() => writer.EndSection());
        Assert.Throws<RetrievalException>(() => writer.Append(new byte[7]));
    }

    [Fact]
    public void SmallFileRoundTripsAndDetectsAFlippedByte()
    {
        var path = Path.Combine(TestData.TempDirectory(), "small.bin");
        var payload = Encoding.ASCII.GetBytes("a payload of a few bytes");
        uint crc = SmallIndexFile.Write(path, "TESTSMAL", 2, payload);
        var read = SmallIndexFile.Read(path, "TESTSMAL", 1, 2, lastLegacyVersion: 1);
        Assert.Equal(payload, read.Payload);
        Assert.Equal(2, read.Version);
        Assert.Equal(crc, read.Checksum);

        var bytes = File.ReadAllBytes(path);
        bytes[40] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<DataFormatException>(() => SmallIndexFile.Read(path, "TESTSMAL", 1, 2, lastLegacyVersion: 1));
        Assert.Contains("small.bin", e.Message);
    }

    [Fact]
    public void LegacyHeaderFilesStillRead()
    {
        var path = Path.Combine(TestData.TempDirectory(), "legacy.bin");
        var payload = Encoding.ASCII.GetBytes("written by format version 1");
        File.WriteAllBytes(path, LegacyFile("TESTLEGA", 1, payload));

        var read = SmallIndexFile.Read(path, "TESTLEGA", 1, 2, lastLegacyVersion: 1);
        Assert.Equal(payload, read.Payload);
        Assert.Equal(1, read.Version);
        Assert.Equal(ContentHash64.Of(payload), read.Checksum);

        // A reader that knows no legacy version takes it for a framed file and rejects it, naming it.
        var e = Assert.ThrowsAny<RetrievalException>(() => SmallIndexFile.Read(path, "TESTLEGA", 1, 2));
        Assert.Contains("legacy.bin", e.Message);

        var bytes = File.ReadAllBytes(path);
        bytes[60] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<DataFormatException>(() => SmallIndexFile.Read(path, "TESTLEGA", 1, 2, lastLegacyVersion: 1));
    }

    /// <summary>A file in the retired framing, byte for byte as the old writer produced it.</summary>
    private static byte[] LegacyFile(string magic, int version, byte[] payload)
    {
        var file = new byte[48 + payload.Length];
        Encoding.ASCII.GetBytes(magic, file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), (uint)version);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12), 48);
        BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(16), 48);
        BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(24), payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(32), ContentHash64.Of(payload));
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(40), ContentHash64.Of(file.AsSpan(0, 40)));
        payload.CopyTo(file, 48);
        return file;
    }
}
