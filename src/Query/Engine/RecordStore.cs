using System.Buffers.Binary;
using FASTER.core;
using Retrieval.Index.Errors;

namespace Retrieval.Query.Engine;

/// <summary>
/// The durable id -> record map: a FASTER key-value store of byte strings (SpanByte keys and values), sized by
/// <see cref="EngineOptions"/> and spilling to its log device beyond its memory budget. Keys are a tag byte
/// ('C' collection schema, 'R' record), the collection's incarnation id and the record key. The store itself is
/// made durable only by checkpoints; between checkpoints the write-ahead log is the source of truth.
/// </summary>
/// <remarks>FASTER sessions are single-threaded, so one session is used under a lock; operations are microseconds.</remarks>
internal sealed class RecordStore : IDisposable
{
    private const byte SchemaTag = (byte)'C', RecordTag = (byte)'R';

    private readonly IDevice _device;
    private readonly FasterKV<SpanByte, SpanByte> _store;
    private readonly ClientSession<SpanByte, SpanByte, SpanByte, byte[], Empty, SpanByteFunctions_ByteArrayOutput<Empty>> _session;
    private readonly object _gate = new();

    /// <summary>
    /// Opens the store and recovers its newest complete checkpoint, if any. The newest one, not the one the engine
    /// manifest names: FASTER deletes older checkpoints once a newer one completes (RemoveOutdated, which keeps the
    /// disk from filling with one index copy per checkpoint), so after a crash between that and the manifest write
    /// only the newer one exists. The engine then replays the log from the manifest's older point, which is safe
    /// because replaying a change the checkpoint already holds is idempotent.
    /// </summary>
    public RecordStore(string directory, EngineOptions options)
    {
        Directory.CreateDirectory(directory);
        _device = Devices.CreateLogDevice(Path.Combine(directory, "hlog"), preallocateFile: false, deleteOnClose: false);
        _store = new FasterKV<SpanByte, SpanByte>(
            options.StoreIndexBuckets,
            new LogSettings
            {
                LogDevice = _device,
                PageSizeBits = options.StorePageBits,
                MemorySizeBits = options.StoreMemoryBits,
                SegmentSizeBits = options.StoreSegmentBits,
                MutableFraction = 0.9,
            },
            new CheckpointSettings { CheckpointDir = Path.Combine(directory, "checkpoints"), RemoveOutdated = true });
        var checkpoints = Path.Combine(directory, "checkpoints", "cpr-checkpoints");
        try
        {
            if (Directory.Exists(checkpoints) && Directory.EnumerateDirectories(checkpoints).Any())
            {
                _store.Recover();
                Recovered = true;
            }
        }
        catch (Exception e) when (e is not RetrievalException)
        {
            _store.Dispose();
            _device.Dispose();
            throw new RetrievalException(ErrorKind.Corrupt, $"record store checkpoint in {checkpoints} could not be recovered: {e.Message}");
        }
        _session = _store.For(new SpanByteFunctions_ByteArrayOutput<Empty>()).NewSession<SpanByteFunctions_ByteArrayOutput<Empty>>();
    }

    /// <summary>Whether a checkpoint was recovered on open.</summary>
    public bool Recovered { get; }

    public void PutSchema(uint collectionId, byte[] schemaJson) => Put(Key(SchemaTag, collectionId, null), schemaJson);
    public void DeleteSchema(uint collectionId) => Delete(Key(SchemaTag, collectionId, null));
    public void PutRecord(uint collectionId, RecordKey key, byte[] encoded) => Put(Key(RecordTag, collectionId, key), encoded);
    public void DeleteRecord(uint collectionId, RecordKey key) => Delete(Key(RecordTag, collectionId, key));

    public byte[]? GetRecord(uint collectionId, RecordKey key) => Read(Key(RecordTag, collectionId, key));

    private byte[]? Read(byte[] k)
    {
        lock (_gate)
        {
            unsafe
            {
                fixed (byte* p = k)
                {
                    var keySpan = SpanByte.FromFixedSpan(k.AsSpan());
                    byte[] output = null!;
                    var status = _session.Read(ref keySpan, ref output);
                    if (status.IsPending)
                    {
                        _session.CompletePendingWithOutputs(out var outputs, wait: true);
                        using (outputs)
                        {
                            while (outputs.Next())
                            {
                                status = outputs.Current.Status;
                                output = outputs.Current.Output;
                            }
                        }
                    }
                    if (status.Found) return output;
                    if (status.NotFound) return null;
                    throw new RetrievalException(ErrorKind.Internal, $"record store read failed with status {status}");
                }
            }
        }
    }

    /// <summary>
    /// Every live schema and record, in no particular order (used once, when the engine opens). Each key the
    /// iterator reports is confirmed with a point read: that read is FASTER's authoritative answer (it follows the
    /// hash chain to the newest version, tombstones included), whereas iteration over a recovered log was seen to
    /// report a deleted key now and then.
    /// </summary>
    public void ScanAll(Action<uint, byte[]> schema, Action<uint, byte[]> record)
    {
        var keys = new List<byte[]>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        lock (_gate)
        {
            using var iterator = _session.Iterate();
            while (iterator.GetNext(out _))
            {
                var key = iterator.GetKey().ToByteArray();
                if (seen.Add(Convert.ToBase64String(key))) keys.Add(key);
            }
        }
        foreach (var key in keys)
        {
            if (key.Length < 5) throw new RetrievalException(ErrorKind.Corrupt, $"record store key of {key.Length} bytes");
            var value = Read(key);
            if (value is null) continue;
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(key.AsSpan(1));
            if (key[0] == SchemaTag) schema(id, value);
            else if (key[0] == RecordTag) record(id, value);
            else throw new RetrievalException(ErrorKind.Corrupt, $"record store key has unknown tag {key[0]}");
        }
    }

    /// <summary>Bytes between the log's begin and tail (memory and disk; overwritten and deleted versions included).</summary>
    public long LogBytes
    {
        get { lock (_gate) return _store.Log.TailAddress - _store.Log.BeginAddress; }
    }

    /// <summary>
    /// When the log spans at least <paramref name="thresholdBytes"/>, copies the live records of its older half (up
    /// to the read-only boundary) to the tail and moves the begin address past them, so the superseded versions
    /// there become garbage; the next checkpoint drops those disk segments. Returns whether it compacted.
    /// </summary>
    /// <param name="whole">Compact the whole log, first making its in-memory mutable part read-only (a checkpoint compacts only the older half).</param>
    public bool CompactLog(long thresholdBytes, bool whole = false)
    {
        lock (_gate)
        {
            long begin = _store.Log.BeginAddress, tail = _store.Log.TailAddress;
            if (tail - begin < thresholdBytes) return false;
            if (whole) _store.Log.ShiftReadOnlyAddress(tail, wait: true);
            long until = whole ? _store.Log.SafeReadOnlyAddress : Math.Min(_store.Log.SafeReadOnlyAddress, begin + (tail - begin) / 2);
            if (until <= begin) return false;
            _session.Compact(until, CompactionType.Scan);
            return true;
        }
    }

    /// <summary>Writes a FASTER fold-over checkpoint of everything applied so far and returns its token.</summary>
    public async Task<Guid> CheckpointAsync()
    {
        lock (_gate) _session.CompletePending(wait: true);
        var (success, token) = await _store.TakeFullCheckpointAsync(CheckpointType.FoldOver).ConfigureAwait(false);
        if (!success) throw new RetrievalException(ErrorKind.Internal, "record store checkpoint did not start (another checkpoint is running)");
        return token;
    }

    private void Put(byte[] key, byte[] value)
    {
        lock (_gate)
        {
            unsafe
            {
                fixed (byte* k = key)
                fixed (byte* v = value)
                {
                    var keySpan = SpanByte.FromFixedSpan(key.AsSpan());
                    var valueSpan = SpanByte.FromFixedSpan(value.AsSpan());
                    var status = _session.Upsert(ref keySpan, ref valueSpan);
                    if (status.IsPending) _session.CompletePending(wait: true);
                }
            }
        }
    }

    private void Delete(byte[] key)
    {
        lock (_gate)
        {
            unsafe
            {
                fixed (byte* k = key)
                {
                    var keySpan = SpanByte.FromFixedSpan(key.AsSpan());
                    var status = _session.Delete(ref keySpan);
                    if (status.IsPending) _session.CompletePending(wait: true);
                }
            }
        }
    }

    private static byte[] Key(byte tag, uint collectionId, RecordKey? key)
    {
        var bytes = new byte[5 + (key?.EncodedLength ?? 0)];
        bytes[0] = tag;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(1), collectionId);
        key?.Write(bytes.AsSpan(5));
        return bytes;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _session.Dispose();
            _store.Dispose();
            _device.Dispose();
        }
    }
}
