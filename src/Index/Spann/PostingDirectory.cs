using System.Buffers.Binary;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Spann;

/// <summary>
/// Where each head's posting lies in postings.bin: byte offset (page aligned), page count and row count.
/// Kept in memory (16 bytes per head); written as directory.bin.
/// </summary>
internal sealed class PostingDirectory
{
    public const int EntryBytes = 16;

    public PostingDirectory(long[] offsets, int[] pages, int[] counts)
    {
        Offsets = offsets;
        Pages = pages;
        Counts = counts;
    }

    public long[] Offsets { get; }
    public int[] Pages { get; }
    public int[] Counts { get; }
    public int PostingCount => Offsets.Length;

    public int MaxCount { get { int m = 0; foreach (int c in Counts) m = Math.Max(m, c); return m; } }

    public long ResidentBytes => (long)PostingCount * EntryBytes;

    public byte[] Serialize()
    {
        var bytes = new byte[PostingCount * EntryBytes];
        for (int i = 0; i < PostingCount; i++)
        {
            var e = bytes.AsSpan(i * EntryBytes);
            BinaryPrimitives.WriteInt64LittleEndian(e, Offsets[i]);
            BinaryPrimitives.WriteInt32LittleEndian(e[8..], Pages[i]);
            BinaryPrimitives.WriteInt32LittleEndian(e[12..], Counts[i]);
        }
        return bytes;
    }

    /// <summary>Parses and checks every entry against where the posting data ends and the layout's page rule.</summary>
    public static PostingDirectory Deserialize(string path, byte[] payload, int expectedCount, long postingDataEnd, PostingLayout layout, long firstPostingOffset)
    {
        if (payload.Length != expectedCount * EntryBytes)
            throw new DataFormatException(path, $"expected {expectedCount} entries ({expectedCount * EntryBytes} bytes), found {payload.Length} bytes");
        var offsets = new long[expectedCount];
        var pages = new int[expectedCount];
        var counts = new int[expectedCount];
        long expectedOffset = firstPostingOffset;
        for (int i = 0; i < expectedCount; i++)
        {
            var e = payload.AsSpan(i * EntryBytes);
            offsets[i] = BinaryPrimitives.ReadInt64LittleEndian(e);
            pages[i] = BinaryPrimitives.ReadInt32LittleEndian(e[8..]);
            counts[i] = BinaryPrimitives.ReadInt32LittleEndian(e[12..]);
            if (offsets[i] != expectedOffset || offsets[i] % PostingLayout.PageBytes != 0 || counts[i] < 0 ||
                pages[i] != layout.Pages(counts[i]) || offsets[i] + (long)pages[i] * PostingLayout.PageBytes > postingDataEnd)
                throw new DataFormatException(path,
                    $"posting {i}: offset {offsets[i]}, {pages[i]} pages, {counts[i]} rows is inconsistent (expected offset {expectedOffset}, " +
                    $"{layout.Pages(Math.Max(0, counts[i]))} pages, within posting data ending at byte {postingDataEnd})", row: i);
            expectedOffset += (long)pages[i] * PostingLayout.PageBytes;
        }
        return new PostingDirectory(offsets, pages, counts);
    }
}
