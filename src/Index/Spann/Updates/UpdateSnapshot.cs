using Retrieval.Index.Errors;
using Retrieval.Index.Graphs;
using Retrieval.Index.Storage;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Spann;

/// <summary>
/// The checkpoint of an <see cref="UpdatableSpannIndex"/>: one <see cref="ChecksummedBinaryFile"/> (updates.snapshot,
/// written under a temporary name and renamed, so it is either the old or the new one, whole) holding
/// <code>
///   int64 state[8]       snapshot version, dimension, metric, heads, graph nodes, version-map bytes, build id, side file bytes
///   float heads[H][d]    head vectors in clustering geometry
///   uint8 removed[H]     1 where a split or merge removed the head
///   uint8 graph[]        the navigation graph (<see cref="NavigationGraph.Serialize"/>)
///   uint8 versions[V]    the version map (7-bit version, 0x80 deleted)
///   int64 postings[H][5] per head: file (0 build postings.bin, 1 side file, -1 none), offset, pages, rows, CRC-32C
///   uint8 userData[]     the caller's bytes (the engine's row keys)
/// </code>
/// Postings are not in it: it points at their extents, which no later write touches until a newer snapshot exists.
/// </summary>
internal sealed record UpdateSnapshot(
    int Dimension,
    Metric Metric,
    float[] HeadVectors,
    bool[] Removed,
    NavigationGraph Graph,
    byte[] Versions,
    PostingExtent?[] Postings,
    long BuildId,
    long SideFileBytes,
    byte[] UserData)
{
    private const int StateLength = 8;

    public int HeadCount => Removed.Length;

    public void Write(string path)
    {
        int h = HeadCount;
        var removed = new byte[h];
        for (int i = 0; i < h; i++) removed[i] = Removed[i] ? (byte)1 : (byte)0;
        var map = new long[h * 5];
        for (int i = 0; i < h; i++)
        {
            var e = Postings[i];
            if (e is not PostingExtent x) { map[i * 5] = -1; continue; }
            map[i * 5] = x.InSideFile ? 1 : 0;
            map[i * 5 + 1] = x.Offset;
            map[i * 5 + 2] = x.Pages;
            map[i * 5 + 3] = x.Rows;
            map[i * 5 + 4] = x.Checksum;
        }
        long[] state = [UpdatableSpannFormat.SnapshotVersion, Dimension, (long)Metric, h, Graph.NodeCount, Versions.Length, BuildId, SideFileBytes];
        using var writer = new ChecksummedBinaryFile.Writer(path, UpdatableSpannFormat.SnapshotMagic, UpdatableSpannFormat.SnapshotVersion, 7);
        writer.Section(state);
        writer.Section(HeadVectors.AsSpan(0, h * Dimension));
        writer.Section(removed);
        writer.Section(Graph.Serialize());
        writer.Section(Versions);
        writer.Section(map);
        writer.Section(UserData);
        writer.Commit();
    }

    /// <summary>Reads and checks a snapshot; every problem is a <see cref="DataFormatException"/> naming the file.</summary>
    public static UpdateSnapshot Read(string path, int dimension, Metric metric, long buildId)
    {
        var reader = new ChecksummedBinaryFile.Reader(path, UpdatableSpannFormat.SnapshotMagic, UpdatableSpannFormat.SnapshotVersion,
            UpdatableSpannFormat.SnapshotVersion, expectedLength: null, expectedChecksum: null);
        var state = reader.Section<long>("state");
        if (state.Length != StateLength) throw reader.Invalid($"state section holds {state.Length} values, expected {StateLength}");
        if (state[1] != dimension || state[2] != (long)metric)
            throw reader.Invalid($"snapshot is of dimension {state[1]}, metric {state[2]}; the index is {dimension}, {(int)metric}");
        if (state[6] != buildId)
            throw reader.Invalid($"snapshot belongs to build {state[6]:x}, this directory holds build {buildId:x} (rebuilt under the snapshot?)");
        int h = checked((int)state[3]);
        var heads = reader.Section<float>("head vectors");
        if (heads.Length != (long)h * dimension) throw reader.Invalid($"{heads.Length} head values for {h} heads of dimension {dimension}");
        var removedBytes = reader.Section<byte>("removed flags");
        if (removedBytes.Length != h) throw reader.Invalid($"{removedBytes.Length} removed flags for {h} heads");
        var graph = NavigationGraph.Deserialize(path, reader.Section<byte>("graph"), checked((int)state[4]));
        if (graph.NodeCount > h) throw reader.Invalid($"graph of {graph.NodeCount} nodes over {h} heads");
        var versions = reader.Section<byte>("version map");
        if (versions.Length != state[5]) throw reader.Invalid($"version map of {versions.Length} bytes, state says {state[5]}");
        var map = reader.Section<long>("posting map");
        if (map.Length != (long)h * 5) throw reader.Invalid($"posting map of {map.Length} values for {h} heads");
        var userData = reader.Section<byte>("user data");
        reader.ExpectEnd();
        var removed = new bool[h];
        var postings = new PostingExtent?[h];
        for (int i = 0; i < h; i++)
        {
            removed[i] = removedBytes[i] != 0;
            long file = map[i * 5];
            if (file == -1) continue;
            long offset = map[i * 5 + 1], pages = map[i * 5 + 2], rows = map[i * 5 + 3], crc = map[i * 5 + 4];
            if (file is not (0 or 1) || offset < 0 || offset % PostingLayout.PageBytes != 0 || pages < 1 || pages > int.MaxValue || rows < 0 || rows > int.MaxValue
                || crc < 0 || crc > uint.MaxValue)
                throw new DataFormatException(path, $"posting of head {i}: file {file}, offset {offset}, {pages} pages, {rows} rows is not a valid extent", row: i);
            postings[i] = new PostingExtent(file == 1, offset, (int)pages, (int)rows, (uint)crc);
        }
        return new UpdateSnapshot(dimension, metric, heads, removed, graph, versions, postings, buildId, state[7], userData);
    }
}
