using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Retrieval.Index.Errors;

namespace Retrieval.Index.Formats;

/// <summary>
/// The header of a numpy .npy file: magic "\x93NUMPY", version (1, 2 or 3), header length (uint16 for v1,
/// uint32 after), then a Python dict literal {'descr': '&lt;f4', 'fortran_order': False, 'shape': (n, d), }
/// padded with spaces to a 64-byte boundary. Only little-endian, C-order arrays of the element types the
/// engine stores are accepted; anything else is Incompatible with a message that says how to convert.
/// </summary>
internal sealed class NpyHeader
{
    public static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
    private const int Alignment = 64;

    private NpyHeader(int majorVersion, StoredElement element, long[] shape, long dataOffset)
    {
        MajorVersion = majorVersion;
        Element = element;
        Shape = shape;
        DataOffset = dataOffset;
    }

    public int MajorVersion { get; }
    public StoredElement Element { get; }
    public long[] Shape { get; }
    public long DataOffset { get; }

    /// <summary>Rows: the first axis (a 0-d array is rejected).</summary>
    public long Rows => Shape[0];

    /// <summary>Columns: the product of the remaining axes, 1 for a 1-d array.</summary>
    public long Columns
    {
        get
        {
            long c = 1;
            for (int i = 1; i < Shape.Length; i++) c = checked(c * Shape[i]);
            return c;
        }
    }

    public string ShapeText => "(" + string.Join(", ", Shape) + (Shape.Length == 1 ? ",)" : ")");

    public static NpyHeader Read(string path, SafeFileHandle handle, long fileLength)
    {
        Span<byte> fixedPart = stackalloc byte[12];
        int got = FormatFiles.ReadAt(handle, fixedPart, 0);
        if (got < 10 || !fixedPart[..6].SequenceEqual(Magic))
        {
            var found = Convert.ToHexString(fixedPart[..Math.Min(got, 6)]);
            throw new DataFormatException(path, $"not a numpy .npy file: expected magic 934E554D5059 (\"\\x93NUMPY\"), found {(got == 0 ? "nothing" : found)}", byteOffset: 0);
        }
        int major = fixedPart[6];
        long headerLength;
        long textStart;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(fixedPart[8..]);
                textStart = 10;
                break;
            case 2 or 3:
                if (got < 12) throw new DataFormatException(path, $"npy v{major} header is truncated: expected 12 bytes of preamble, found {got}", byteOffset: got);
                headerLength = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart[8..]);
                textStart = 12;
                break;
            default:
                throw new DataFormatException(path, $"npy format version {major}.{fixedPart[7]} is not supported: expected 1.0, 2.0 or 3.0", byteOffset: 6, kind: ErrorKind.Incompatible);
        }
        long dataOffset = textStart + headerLength;
        if (dataOffset > fileLength)
            throw new DataFormatException(path, $"npy header claims {headerLength} header bytes (data at byte {dataOffset}) but the file holds only {fileLength} bytes", byteOffset: textStart);
        if (headerLength > 1 << 20)
            throw new DataFormatException(path, $"npy header length {headerLength} is implausible (expected under 1 MiB)", byteOffset: 8);
        var textBytes = new byte[headerLength];
        FormatFiles.ReadAt(handle, textBytes, textStart);
        // v1/v2 headers are latin-1, v3 allows utf-8; the dict we accept is plain ASCII either way.
        var text = major == 3 ? Encoding.UTF8.GetString(textBytes) : Encoding.Latin1.GetString(textBytes);
        var dict = new DictParser(path, text, textStart).ParseDict();
        return FromDict(path, major, dict, dataOffset);
    }

    private static NpyHeader FromDict(string path, int major, Dictionary<string, object> dict, long dataOffset)
    {
        if (!dict.TryGetValue("descr", out var descrObj))
            throw new DataFormatException(path, "npy header has no 'descr' key (expected e.g. 'descr': '<f4')", byteOffset: 10);
        if (descrObj is not string descr)
            throw new DataFormatException(path, "npy 'descr' is a structured dtype: expected a plain dtype such as '<f4', '<f2', '|u1', '|i1', '<i4', '<i8'", byteOffset: 10, kind: ErrorKind.Incompatible);
        if (!dict.TryGetValue("shape", out var shapeObj) || shapeObj is not long[] shape)
            throw new DataFormatException(path, "npy header has no 'shape' tuple (expected e.g. 'shape': (1000, 128))", byteOffset: 10);
        if (!dict.TryGetValue("fortran_order", out var fortranObj) || fortranObj is not bool fortran)
            throw new DataFormatException(path, "npy header has no boolean 'fortran_order' key", byteOffset: 10);
        var element = ParseDescr(path, descr);
        if (shape.Length == 0)
            throw new DataFormatException(path, "npy array is 0-dimensional (a scalar): expected shape (rows,) or (rows, columns)", byteOffset: 10, kind: ErrorKind.Incompatible);
        foreach (var axis in shape)
        {
            if (axis < 0) throw new DataFormatException(path, $"npy shape has a negative axis: {string.Join(", ", shape)}", byteOffset: 10);
        }
        // A 1-d array is laid out identically in either order.
        if (fortran && shape.Length > 1)
            throw new DataFormatException(path,
                $"npy array of shape ({string.Join(", ", shape)}) is stored in Fortran (column-major) order: expected C order; re-save it with numpy.ascontiguousarray(a)",
                byteOffset: 10, kind: ErrorKind.Incompatible);
        return new NpyHeader(major, element, shape, dataOffset);
    }

    private static StoredElement ParseDescr(string path, string descr)
    {
        if (descr.Length < 2)
            throw new DataFormatException(path, $"npy dtype '{descr}' is not supported: expected one of {SupportedDtypes}", byteOffset: 10, kind: ErrorKind.Incompatible);
        char order = descr[0];
        string code = descr[1..];
        if (order is not ('<' or '>' or '|' or '='))
        {
            order = '|';
            code = descr;
        }
        StoredElement? element = code switch
        {
            "f4" => StoredElement.Float32,
            "f2" => StoredElement.Float16,
            "u1" => StoredElement.UInt8,
            "i1" => StoredElement.Int8,
            "i4" => StoredElement.Int32,
            "i8" => StoredElement.Int64,
            "f8" => StoredElement.Float64,
            _ => null,
        };
        if (element is null)
            throw new DataFormatException(path, $"npy dtype '{descr}' is not supported: expected one of {SupportedDtypes}", byteOffset: 10, kind: ErrorKind.Incompatible);
        if (order == '>' && element.Value.SizeInBytes() > 1)
            throw new DataFormatException(path, $"npy dtype '{descr}' is big-endian: expected little-endian ('<{code}'); convert with a.astype('<{code}')", byteOffset: 10, kind: ErrorKind.Incompatible);
        // '|' (not applicable) on a multi-byte type would be a malformed header; '=' is native, i.e. little-endian here.
        if (order == '|' && element.Value.SizeInBytes() > 1)
            throw new DataFormatException(path, $"npy dtype '{descr}' has no byte order: expected '<{code}'", byteOffset: 10, kind: ErrorKind.Incompatible);
        return element.Value;
    }

    public const string SupportedDtypes = "'<f4', '<f2', '|u1', '|i1', '<i4', '<i8', '<f8'";

    public static string Descr(StoredElement element) => element switch
    {
        StoredElement.Float32 => "<f4",
        StoredElement.Float16 => "<f2",
        StoredElement.UInt8 => "|u1",
        StoredElement.Int8 => "|i1",
        StoredElement.Int32 => "<i4",
        StoredElement.Int64 => "<i8",
        StoredElement.Float64 => "<f8",
        _ => throw new ArgumentOutOfRangeException(nameof(element)),
    };

    /// <summary>A complete v1 header (v2 if the dict is too long for v1) for a C-order rows x columns array.</summary>
    public static byte[] Encode(StoredElement element, long rows, long columns)
    {
        var dict = string.Create(CultureInfo.InvariantCulture,
            $"{{'descr': '{Descr(element)}', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
        int major = dict.Length + 1 + 10 > ushort.MaxValue ? 2 : 1;
        int preamble = major == 1 ? 10 : 12;
        int unpadded = preamble + dict.Length + 1;
        int total = (unpadded + Alignment - 1) / Alignment * Alignment;
        var header = new byte[total];
        Magic.CopyTo(header);
        header[6] = (byte)major;
        header[7] = 0;
        int textLength = total - preamble;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)textLength);
        else BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)textLength);
        Encoding.ASCII.GetBytes(dict, header.AsSpan(preamble));
        header.AsSpan(preamble + dict.Length, total - preamble - dict.Length - 1).Fill((byte)' ');
        header[^1] = (byte)'\n';
        return header;
    }

    /// <summary>Just enough of Python literal syntax for npy headers: a dict of strings, booleans and int tuples.</summary>
    private ref struct DictParser
    {
        private readonly string _path;
        private readonly string _text;
        private readonly long _baseOffset;
        private int _pos;

        public DictParser(string path, string text, long baseOffset)
        {
            _path = path;
            _text = text;
            _baseOffset = baseOffset;
            _pos = 0;
        }

        public Dictionary<string, object> ParseDict()
        {
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            SkipSpace();
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _pos++; break; }
                var key = ParseString();
                SkipSpace();
                Expect(':');
                SkipSpace();
                result[key] = ParseValue();
                SkipSpace();
                char c = Peek();
                if (c == ',') { _pos++; continue; }
                if (c == '}') { _pos++; break; }
                Fail("',' or '}'");
            }
            return result;
        }

        private object ParseValue()
        {
            char c = Peek();
            if (c is '\'' or '"') return ParseString();
            if (c == '(') return ParseTuple();
            if (c == '[') return ParseList();
            if (Match("True")) return true;
            if (Match("False")) return false;
            Fail("a string, True/False or a tuple");
            return null!;
        }

        private long[] ParseTuple()
        {
            Expect('(');
            var items = new List<long>(2);
            while (true)
            {
                SkipSpace();
                if (Peek() == ')') { _pos++; break; }
                int start = _pos;
                while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos])) _pos++;
                if (start == _pos) Fail("an integer");
                if (!long.TryParse(_text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                    Fail("an integer that fits in 64 bits");
                if (_pos < _text.Length && _text[_pos] is 'L' or 'l') _pos++; // Python 2 long suffix
                items.Add(value);
                SkipSpace();
                char c = Peek();
                if (c == ',') { _pos++; continue; }
                if (c == ')') { _pos++; break; }
                Fail("',' or ')'");
            }
            return items.ToArray();
        }

        /// <summary>A structured dtype is a list of fields; read past it so the caller can reject it by name.</summary>
        private object ParseList()
        {
            int depth = 0;
            do
            {
                char c = Peek();
                if (c == '[') depth++;
                else if (c == ']') depth--;
                _pos++;
            } while (depth > 0);
            return new object();
        }

        private string ParseString()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"')) Fail("a quoted string");
            int start = ++_pos;
            while (_pos < _text.Length && _text[_pos] != quote) _pos++;
            if (_pos >= _text.Length) Fail("a closing quote");
            return _text[start.._pos++];
        }

        private bool Match(string word)
        {
            if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) != 0) return false;
            _pos += word.Length;
            return true;
        }

        private void Expect(char c)
        {
            if (Peek() != c) Fail($"'{c}'");
            _pos++;
        }

        private readonly char Peek()
        {
            if (_pos >= _text.Length) Fail("more header text");
            return _text[_pos];
        }

        private void SkipSpace()
        {
            while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos])) _pos++;
        }

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private readonly void Fail(string expected)
        {
            var found = _pos < _text.Length ? $"'{_text[_pos]}'" : "end of header";
            throw new DataFormatException(_path,
                $"npy header is not a valid dict literal: expected {expected} at header character {_pos}, found {found} (header: {_text.TrimEnd()})",
                byteOffset: _baseOffset + _pos);
        }
    }
}
