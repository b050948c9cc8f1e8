using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Storage;

/// <summary>
/// The one framing of every binary index file (Seismic, SPANN, engine segments): a 16-byte header (8-byte magic
/// naming the file's role, format version, section count), typed sections, and a 16-byte footer (payload length,
/// CRC-32C of everything before the footer, end magic). A section is a 16-byte head (element word, element size,
/// count) and its data padded to 8 bytes; the element word's low 16 bits are the <see cref="Element"/> code, its
/// high 16 bits log2 of the data's alignment in the file (0: the data follows the head), so a section can start on
/// a 4 KiB page for O_DIRECT reads (SPANN's postings). A reader checks the footer and checksum before it trusts a
/// single length field, so a truncated or bit-flipped file is rejected with an error naming the file, never read
/// as garbage. Files of the retired header framing are read by <see cref="LegacyIndexFileHeader"/>.
/// </summary>
public static class ChecksummedBinaryFile
{
    public const int HeaderBytes = 16;
    public const int FooterBytes = 16;
    private static ReadOnlySpan<byte> EndMagic => "SEND"u8;

    public enum Element : uint { UInt8 = 1, UInt16 = 2, Int32 = 3, Int64 = 4, Float16 = 5, Float32 = 6 }

    public sealed class Writer : IDisposable
    {
        private readonly AtomicFile _file;
        private readonly Stream _stream;
        private uint _crc;
        private long _length;
        private readonly int _declaredSections;
        private int _sections;
        private bool _open;
        private long _sectionRemaining;

        public Writer(string path, string magic, uint version, int sections)
        {
            _file = new AtomicFile(path);
            _stream = _file.Stream;
            _declaredSections = sections;
            Span<byte> header = stackalloc byte[HeaderBytes];
            MagicBytes(magic).CopyTo(header);
            BinaryPrimitives.WriteUInt32LittleEndian(header[8..], version);
            BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)sections);
            Write(header);
        }

        public long Length => _length + FooterBytes;
        public uint Checksum => _crc;

        public void Section<T>(T[] data) where T : unmanaged => Section(new ReadOnlySpan<T>(data));

        public void Section<T>(ReadOnlySpan<T> data) where T : unmanaged
        {
            var (element, _) = ElementOf<T>();
            BeginSection(element, data.Length);
            var bytes = MemoryMarshal.AsBytes(data);
            const int chunk = 1 << 22;
            for (int i = 0; i < bytes.Length; i += chunk) Append(bytes.Slice(i, Math.Min(chunk, bytes.Length - i)));
            EndSection();
        }

        /// <summary>
        /// Starts a section of <paramref name="count"/> elements written piece by piece through <see cref="Append"/>
        /// (for files too large to hold in memory); its data starts at a multiple of <paramref name="alignment"/>
        /// bytes from the start of the file (a power of two from 8 to 1 MiB). Returns the data's file offset.
        /// </summary>
        public long BeginSection(Element element, long count, int alignment = 8)
        {
            if (_open) throw new InvalidOperationException("the previous section is not ended");
            if (alignment < 8 || alignment > (1 << 20) || !BitOperations.IsPow2(alignment))
                throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "a power of two from 8 to 1 MiB");
            int size = SizeOf(element);
            int shift = alignment == 8 ? 0 : BitOperations.Log2((uint)alignment);
            Span<byte> head = stackalloc byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)element | (uint)shift << 16);
            BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)size);
            BinaryPrimitives.WriteInt64LittleEndian(head[8..], count);
            Write(head);
            long start = AlignUp(_length, alignment);
            if (start > _length) WriteZeros(start - _length);
            _open = true;
            _sectionRemaining = count * size;
            return start;
        }

        /// <summary>Appends data to the section begun by <see cref="BeginSection"/>.</summary>
        public void Append(ReadOnlySpan<byte> bytes)
        {
            if (!_open || bytes.Length > _sectionRemaining)
                throw new RetrievalException(ErrorKind.Internal, $"{bytes.Length} bytes appended outside a section or past its declared size");
            Write(bytes);
            _sectionRemaining -= bytes.Length;
        }

        /// <summary>Ends the current section (it must hold exactly its declared bytes) and pads it to 8 bytes.</summary>
        public void EndSection()
        {
            if (!_open || _sectionRemaining != 0)
                throw new RetrievalException(ErrorKind.Internal, $"section ended {_sectionRemaining} bytes short of its declared size");
            WriteZeros((8 - (_length & 7)) & 7);
            _open = false;
            _sections++;
        }

        /// <summary>Writes the footer and renames the file into place.</summary>
        public void Commit()
        {
            if (_open || _sections != _declaredSections)
                throw new RetrievalException(ErrorKind.Internal, $"wrote {_sections} sections, header declares {_declaredSections}");
            Span<byte> footer = stackalloc byte[FooterBytes];
            BinaryPrimitives.WriteInt64LittleEndian(footer, _length);
            BinaryPrimitives.WriteUInt32LittleEndian(footer[8..], _crc);
            EndMagic.CopyTo(footer[12..]);
            _stream.Write(footer);
            _file.Commit();
        }

        public void Dispose() => _file.Dispose();

        private void Write(ReadOnlySpan<byte> bytes)
        {
            _crc = Crc32C(_crc, bytes);
            _stream.Write(bytes);
            _length += bytes.Length;
        }

        private void WriteZeros(long count)
        {
            Span<byte> zeros = stackalloc byte[512];
            zeros.Clear();
            for (; count > 0; count -= zeros.Length) Write(zeros[..(int)Math.Min(count, zeros.Length)]);
        }
    }

    /// <summary>
    /// Verifies a file and reads its sections. The constructor streams the payload once through CRC-32C (a 4 MiB
    /// buffer, not the whole file), then each section is read from the file straight into its final array: opening
    /// an index costs its arrays' size in memory, not twice that (a whole-file buffer plus the copies).
    /// </summary>
    public sealed class Reader
    {
        private const int ChecksumChunk = 1 << 22;
        private readonly string _path;
        private readonly long _length;
        private readonly int _sectionCount;
        private long _position = HeaderBytes;
        private int _sectionsRead;
        private readonly uint _checksum;

        /// <summary>Reads and verifies the whole file: footer, checksum, magic, version range, section count.</summary>
        public Reader(string path, string magic, uint currentVersion, uint oldestVersion, long? expectedLength, uint? expectedChecksum)
            : this(path, magic, currentVersion, oldestVersion, expectedLength, expectedChecksum, verifyChecksum: true)
        {
        }

        /// <summary>
        /// Reads the file's header and footer; with <paramref name="verifyChecksum"/> false the contents are not hashed
        /// (the footer's checksum is still compared with <paramref name="expectedChecksum"/>), for large files whose
        /// owner chose not to read every byte at open.
        /// </summary>
        public Reader(string path, string magic, uint currentVersion, uint oldestVersion, long? expectedLength, uint? expectedChecksum, bool verifyChecksum)
        {
            _path = path;
            if (!File.Exists(path)) throw new DataFormatException(path, "file is missing from the index directory");
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            long length = RandomAccess.GetLength(handle);
            _length = length;
            if (expectedLength is long expected && length != expected)
                throw new DataFormatException(path, $"file is {length} bytes but the manifest says {expected} (truncated or replaced)");
            if (length < HeaderBytes + FooterBytes)
                throw new DataFormatException(path, $"file is {length} bytes, shorter than the {HeaderBytes + FooterBytes}-byte header and footer (truncated)");
            Span<byte> footer = stackalloc byte[FooterBytes];
            ReadExactly(handle, footer, length - FooterBytes);
            if (!footer[12..].SequenceEqual(EndMagic))
                throw new DataFormatException(path, "end marker missing: the file is truncated or not an index file", byteOffset: length - 4);
            long payload = BinaryPrimitives.ReadInt64LittleEndian(footer);
            if (payload != length - FooterBytes)
                throw new DataFormatException(path, $"footer says {payload} payload bytes, file holds {length - FooterBytes} (truncated or extended)",
                    byteOffset: length - FooterBytes);
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(footer[8..]);
            Span<byte> header = stackalloc byte[HeaderBytes];
            ReadExactly(handle, header, 0);
            if (verifyChecksum)
            {
                uint actual = 0;
                var buffer = new byte[(int)Math.Min(ChecksumChunk, payload)];
                for (long at = 0; at < payload; at += buffer.Length)
                {
                    var chunk = buffer.AsSpan(0, (int)Math.Min(buffer.Length, payload - at));
                    ReadExactly(handle, chunk, at);
                    actual = Crc32C(actual, chunk);
                }
                if (stored != actual)
                    throw new DataFormatException(path, $"checksum mismatch: footer CRC-32C {stored:x8}, contents hash to {actual:x8} (corrupted)");
            }
            if (expectedChecksum is uint manifestCrc && manifestCrc != stored)
                throw new DataFormatException(path, $"checksum {stored:x8} differs from the manifest's {manifestCrc:x8} (file from another index or build)");
            _checksum = stored;
            if (!header[..8].SequenceEqual(MagicBytes(magic)))
                throw new DataFormatException(path, $"magic is '{Encoding.ASCII.GetString(header[..8]).TrimEnd('\0')}', expected '{magic}'", byteOffset: 0,
                    kind: ErrorKind.Incompatible);
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            if (version < oldestVersion || version > currentVersion)
                throw new DataFormatException(path, $"format version {version} is not readable here (supported {oldestVersion}..{currentVersion})",
                    byteOffset: 8, kind: ErrorKind.Incompatible);
            Version = version;
            _sectionCount = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        }

        public uint Version { get; }
        public long Length => _length;
        public uint Checksum => _checksum;
        public int SectionCount => _sectionCount;

        /// <summary>
        /// The element type the next section declares (for sections whose width the writer chose, e.g. u16 or i32 ids),
        /// or null when no section header follows; <see cref="Section{T}"/> still checks it.
        /// </summary>
        public Element? NextElement
        {
            get
            {
                if (_sectionsRead >= _sectionCount || _length - FooterBytes - _position < 16) return null;
                Span<byte> head = stackalloc byte[4];
                using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.Read);
                ReadExactly(handle, head, _position);
                return (Element)(BinaryPrimitives.ReadUInt32LittleEndian(head) & 0xFFFF);
            }
        }

        public T[] Section<T>(string what) where T : unmanaged
        {
            using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            var (offset, count) = NextSection<T>(handle, what);
            if (count > Array.MaxLength)
                throw new DataFormatException(_path, $"section '{what}' claims {count} elements, more than one array holds", byteOffset: offset);
            var data = new T[count];
            // The checksum was verified over the whole payload in the constructor; the section is read directly into
            // its array (from the page cache, normally) rather than through an intermediate buffer.
            ReadExactly(handle, MemoryMarshal.AsBytes(data.AsSpan()), offset);
            return data;
        }

        /// <summary>
        /// Skips the next section without reading its data and returns where that data lies: its file offset and
        /// element count (for sections read later in place, such as SPANN's postings).
        /// </summary>
        public (long Offset, long Count) SectionExtent<T>(string what) where T : unmanaged
        {
            using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return NextSection<T>(handle, what);
        }

        public void ExpectEnd()
        {
            if (_sectionsRead != _sectionCount || _position != _length - FooterBytes)
                throw new DataFormatException(_path, $"{_length - FooterBytes - _position} unexpected bytes after the last section", byteOffset: _position);
        }

        public DataFormatException Invalid(string problem) => new(_path, problem);

        private (long Offset, long Count) NextSection<T>(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string what) where T : unmanaged
        {
            long end = _length - FooterBytes;
            if (_sectionsRead >= _sectionCount)
                throw new DataFormatException(_path, $"section '{what}' missing: header declares {_sectionCount} sections");
            if (end - _position < 16)
                throw new DataFormatException(_path, $"section '{what}' header runs past the end of the data", byteOffset: _position);
            var (element, size) = ElementOf<T>();
            Span<byte> head = stackalloc byte[16];
            ReadExactly(handle, head, _position);
            uint word = BinaryPrimitives.ReadUInt32LittleEndian(head);
            uint code = word & 0xFFFF, shift = word >> 16;
            uint storedSize = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
            long count = BinaryPrimitives.ReadInt64LittleEndian(head[8..]);
            if (code != (uint)element || storedSize != size)
                throw new DataFormatException(_path, $"section '{what}' holds element type {code} of {storedSize} bytes, expected {element} of {size} bytes",
                    byteOffset: _position);
            if (shift > 20)
                throw new DataFormatException(_path, $"section '{what}' declares a {shift}-bit alignment (at most 20)", byteOffset: _position);
            long start = shift == 0 ? _position + 16 : AlignUp(_position + 16, 1L << (int)shift);
            if (count < 0 || start > end || count > (end - start) / size)
                throw new DataFormatException(_path, $"section '{what}' claims {count} elements, more than the {Math.Max(0, end - start)} bytes left",
                    byteOffset: _position);
            _position = start + ((count * size + 7) & ~7L);
            _sectionsRead++;
            return (start, count);
        }

        private void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> target, long offset)
        {
            while (!target.IsEmpty)
            {
                int read = RandomAccess.Read(handle, target, offset);
                if (read <= 0) throw new DataFormatException(_path, "file ended early while reading (changed while open?)", byteOffset: offset);
                target = target[read..];
                offset += read;
            }
        }
    }

    private static byte[] MagicBytes(string magic)
    {
        var bytes = new byte[8];
        Encoding.ASCII.GetBytes(magic, bytes);
        return bytes;
    }

    private static long AlignUp(long value, long alignment) => (value + alignment - 1) & ~(alignment - 1);

    private static int SizeOf(Element element) => element switch
    {
        Element.UInt8 => 1,
        Element.UInt16 or Element.Float16 => 2,
        Element.Int32 or Element.Float32 => 4,
        Element.Int64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(element), element, "unknown section element"),
    };

    private static (Element, int) ElementOf<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(byte)) return (Element.UInt8, 1);
        if (typeof(T) == typeof(ushort)) return (Element.UInt16, 2);
        if (typeof(T) == typeof(int)) return (Element.Int32, 4);
        if (typeof(T) == typeof(long)) return (Element.Int64, 8);
        if (typeof(T) == typeof(Half)) return (Element.Float16, 2);
        if (typeof(T) == typeof(float)) return (Element.Float32, 4);
        throw new ArgumentException($"unsupported section element {typeof(T).Name}");
    }

    /// <summary>CRC-32C (Castagnoli), hardware-accelerated by <see cref="BitOperations.Crc32C(uint, ulong)"/> where available.</summary>
    public static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong w in words) crc = BitOperations.Crc32C(crc, w);
        for (int i = words.Length * 8; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return ~crc;
    }
}
