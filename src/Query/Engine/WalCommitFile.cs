using System.Buffers.Binary;
using FASTER.core;
using Microsoft.Win32.SafeHandles;
using Retrieval.Index.Errors;
using Retrieval.Index.Storage;

namespace Retrieval.Query.Engine;

/// <summary>
/// Where the write-ahead log keeps its commit records: one preallocated file of two slots, written in turn with one
/// synchronous write-through write each (commit N goes to slot N mod 2, so a torn write leaves the previous commit
/// whole). It replaces FASTER's default of a new file per commit (create, write, delete the previous one, with the
/// write handed to the thread pool), which cost several journal commits and pool hops on every log commit.
/// A log whose commits are still in that older form (<c>log-commits/commit.N</c>) is recovered from them once;
/// the first commit here then removes them.
/// </summary>
internal sealed class WalCommitFile : ILogCommitManager
{
    private const int SlotBytes = 4096, HeaderBytes = 24;
    private const uint Magic = 0x434C4157; // "WALC"

    private readonly string _path;
    private readonly SafeFileHandle _file;
    private readonly object _gate = new();
    private readonly string _legacyDirectory;
    private DeviceLogCommitCheckpointManager? _legacy;
    private readonly byte[] _slot = new byte[SlotBytes];

    public WalCommitFile(string directory)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, "wal-commit");
        bool created = !File.Exists(_path);
        _file = File.OpenHandle(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, FileOptions.WriteThrough);
        if (created || RandomAccess.GetLength(_file) < 2 * SlotBytes)
        {
            RandomAccess.Write(_file, new byte[2 * SlotBytes], 0);
            RandomAccess.FlushToDisk(_file);
        }
        _legacyDirectory = directory;
        if (Directory.Exists(Path.Combine(directory, "log-commits")))
            _legacy = new DeviceLogCommitCheckpointManager(new LocalStorageNamedDeviceFactory(), new DefaultCheckpointNamingScheme(directory));
    }

    /// <summary>Commit records written so far by this instance.</summary>
    public long Writes { get; private set; }

    public void Commit(long beginAddress, long untilAddress, byte[] commitMetadata, long commitNum, bool forceWriteMetadata)
    {
        if (commitMetadata.Length > SlotBytes - HeaderBytes)
            throw new RetrievalException(ErrorKind.Internal, $"write-ahead log commit record of {commitMetadata.Length} bytes does not fit a {SlotBytes}-byte slot");
        lock (_gate)
        {
            Array.Clear(_slot);
            var span = _slot.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
            BinaryPrimitives.WriteInt32LittleEndian(span[4..], commitMetadata.Length);
            BinaryPrimitives.WriteInt64LittleEndian(span[8..], commitNum);
            commitMetadata.CopyTo(span[HeaderBytes..]);
            BinaryPrimitives.WriteUInt64LittleEndian(span[16..], Checksum(span));
            RandomAccess.Write(_file, _slot, SlotOffset(commitNum));
            Writes++;
            if (_legacy is { } legacy)
            {
                // The commit above supersedes the older-form commits: remove them so they can never be read again.
                legacy.RemoveAllCommits();
                legacy.Dispose();
                _legacy = null;
                try { Directory.Delete(Path.Combine(_legacyDirectory, "log-commits"), recursive: true); } catch (IOException) { }
            }
        }
    }

    public IEnumerable<long> ListCommits()
    {
        List<long> found;
        lock (_gate)
        {
            found = [];
            for (int s = 0; s < 2; s++) if (ReadSlot(s) is { } slot) found.Add(slot.CommitNum);
            found.Sort((a, b) => b.CompareTo(a));
            if (found.Count == 0 && _legacy is { } legacy) found.AddRange(legacy.ListCommits());
        }
        return found;
    }

    public byte[]? GetCommitMetadata(long commitNum)
    {
        lock (_gate)
        {
            for (int s = 0; s < 2; s++)
                if (ReadSlot(s) is { } slot && slot.CommitNum == commitNum) return slot.Metadata;
            return _legacy?.GetCommitMetadata(commitNum);
        }
    }

    public bool PreciseCommitNumRecoverySupport() => false;

    public void RemoveCommit(long commitNum)
    {
        lock (_gate)
        {
            for (int s = 0; s < 2; s++)
                if (ReadSlot(s) is { } slot && slot.CommitNum == commitNum) RandomAccess.Write(_file, new byte[SlotBytes], (long)s * SlotBytes);
        }
    }

    public void RemoveAllCommits()
    {
        lock (_gate)
        {
            RandomAccess.Write(_file, new byte[2 * SlotBytes], 0);
            _legacy?.RemoveAllCommits();
        }
    }

    public void OnRecovery(long commitNum) { }

    public void Dispose()
    {
        lock (_gate)
        {
            _file.Dispose();
            _legacy?.Dispose();
            _legacy = null;
        }
    }

    private static long SlotOffset(long commitNum) => (commitNum & 1) * SlotBytes;

    /// <summary>Checksum of a slot: its header without the checksum field, then the metadata.</summary>
    private static ulong Checksum(ReadOnlySpan<byte> slot)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(slot[4..]);
        var hash = ContentHash64.Create();
        hash.Append(slot[..16]);
        hash.Append(slot.Slice(HeaderBytes, length));
        return hash.Finish();
    }

    private (long CommitNum, byte[] Metadata)? ReadSlot(int s)
    {
        var buffer = new byte[SlotBytes];
        if (RandomAccess.Read(_file, buffer, (long)s * SlotBytes) < SlotBytes) return null;
        var span = buffer.AsSpan();
        if (BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic) return null;
        int length = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
        if (length < 0 || length > SlotBytes - HeaderBytes) return null;
        if (BinaryPrimitives.ReadUInt64LittleEndian(span[16..]) != Checksum(span)) return null;
        return (BinaryPrimitives.ReadInt64LittleEndian(span[8..]), span.Slice(HeaderBytes, length).ToArray());
    }
}
