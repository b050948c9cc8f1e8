using System.Buffers;
using System.Runtime.InteropServices;

namespace Retrieval.Index.Storage;

/// <summary>
/// Native memory aligned to <see cref="Alignment"/> bytes (a disk page), as O_DIRECT reads require of their
/// destination. Also a <see cref="MemoryManager{T}"/> so slices can be handed to async file APIs without
/// copying or pinning. Owns its memory: dispose it.
/// </summary>
public sealed unsafe class AlignedBuffer : MemoryManager<byte>
{
    public const int Alignment = 4096;

    private byte* _pointer;

    public AlignedBuffer(long length)
    {
        if (length < 0 || length > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(length), length, "aligned buffers hold 0..2 GiB");
        Length = (int)length;
        _pointer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(length, 1), Alignment);
    }

    public int Length { get; }
    public byte* Pointer => _pointer;
    public Span<byte> Span => new(_pointer, Length);

    public override Span<byte> GetSpan() => new(_pointer, Length);
    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);
    public override void Unpin() { }

    protected override void Dispose(bool disposing)
    {
        if (_pointer is null) return;
        NativeMemory.AlignedFree(_pointer);
        _pointer = null;
    }
}
