using System.Buffers.Binary;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Tests.Support;

namespace Retrieval.Tests.Spann;

public class SpannBuildInvariantTests
{
    /// <summary>
    /// Reads every posting back from postings.bin and checks the build's promises: each vector in at least one
    /// posting, at most R replicas, no posting over the page budget, postings page aligned, no duplicate rows.
    /// A 2-page budget on the 2,000-row fixture forces the overflow path (asserted via the manifest counters).
    /// </summary>
    [Theory]
    [InlineData(SpannStorage.Float32, 2, 4)]
    [InlineData(SpannStorage.Float16, 1, 8)]
    [InlineData(SpannStorage.Int8, 1, 8)]
    public void EveryVectorInAPostingWithinReplicaAndPageCaps(SpannStorage storage, int postingPages, int replicas)
    {
        var vectors = SpannTestData.TinyBase();
        var options = new SpannBuildOptions
        {
            Metric = Metric.L2,
            Storage = storage,
            PostingPages = postingPages,
            ReplicaCount = replicas,
            HeadRatio = 0.1,
            ClosureEpsilon = 3,
        };
        using var index = SpannTestData.BuildAndOpen(vectors, options, out var dir);
        var layout = index.Layout;
        int cap = layout.Capacity(postingPages);
        Assert.Equal(cap, index.Manifest.Stats.PostingCap);

        var file = File.ReadAllBytes(Path.Combine(dir, SpannFormat.PostingsFile));
        var replicaCount = new int[vectors.Count];
        for (int p = 0; p < index.Postings.PostingCount; p++)
        {
            long offset = index.Postings.Offsets[p];
            int count = index.Postings.Counts[p];
            Assert.Equal(0, offset % 4096);
            Assert.True(index.Postings.Pages[p] <= postingPages, $"posting {p} spans {index.Postings.Pages[p]} pages");
            Assert.True(count <= cap, $"posting {p} holds {count} rows, cap {cap}");
            var seen = new HashSet<int>();
            for (int r = 0; r < count; r++)
            {
                int id = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan((int)offset + r * 4));
                Assert.InRange(id, 0, vectors.Count - 1);
                Assert.True(seen.Add(id), $"vector {id} twice in posting {p}");
                replicaCount[id]++;
            }
        }
        for (int v = 0; v < vectors.Count; v++)
        {
            Assert.True(replicaCount[v] >= 1, $"vector {v} is in no posting");
            Assert.True(replicaCount[v] <= replicas, $"vector {v} is in {replicaCount[v]} postings, R = {replicas}");
        }
        Assert.Equal(0, index.Manifest.Stats.VectorsInNoPosting);
        long histogramTotal = 0;
        foreach (var c in index.Manifest.Stats.ReplicaHistogram) histogramTotal += c;
        Assert.Equal(vectors.Count, histogramTotal);
        // 200 heads x cap rows must have squeezed: the tight budget really exercised eviction.
        Assert.True(index.Manifest.Stats.ReplicasDroppedByCap > 0, "expected the page budget to evict replicas");
    }

    [Fact]
    public void StreamingBuildFromFileEqualsInMemoryBuild()
    {
        // The file path streams in 97-row chunks; the result must be byte-identical to the in-memory build.
        var options = new SpannBuildOptions { Metric = Metric.L2, HeadRatio = 0.1 };
        var fromMemory = Path.Combine(TestData.TempDirectory(), "a");
        var fromFile = Path.Combine(TestData.TempDirectory(), "b");
        SpannBuilder.Build(SpannTestData.TinyBase(), fromMemory, options);
        SpannBuilder.Build(VectorSource.FromFile(TestData.Fixture("tiny-dense", "base.u8bin"), chunkRows: 97), fromFile, options);
        foreach (var name in new[] { SpannFormat.PostingsFile, SpannFormat.HeadsFile, SpannFormat.GraphFile, SpannFormat.DirectoryFile })
            Assert.Equal(File.ReadAllBytes(Path.Combine(fromMemory, name)), File.ReadAllBytes(Path.Combine(fromFile, name)));
    }

    [Fact]
    public void PostingsAreBalancedAndHeadsAreRealVectors()
    {
        var vectors = SpannTestData.TinyBase();
        using var index = SpannTestData.BuildAndOpen(vectors, new SpannBuildOptions { Metric = Metric.L2, HeadRatio = 0.1 }, out _);
        Assert.Equal(200, index.Heads.Count);
        // uint8 input keeps uint8 heads (exact, a quarter of float32's bytes).
        Assert.Equal(ElementType.UInt8, index.Heads.Element);
        for (int h = 0; h < index.Heads.Count; h++)
        {
            var head = index.Heads.UInt8!.AsSpan(h * vectors.Dimension, vectors.Dimension);
            Assert.True(head.SequenceEqual(vectors.RawRow(index.Heads.RowIds[h])), $"head {h} is not base row {index.Heads.RowIds[h]}");
        }
        // Balanced k-means: no posting more than a few times the mean (plain k-means on SIFT gives heavy tails).
        var stats = index.Manifest.Stats;
        Assert.True(stats.MaxPostingLength <= 6 * stats.MeanPostingLength, $"max {stats.MaxPostingLength} vs mean {stats.MeanPostingLength}");
    }
}
