using Retrieval.Index.Storage;

namespace Retrieval.Tests.Seismic;

/// <summary>Backing arrays with 2 MiB pages is a hint: contents never change, and the reported size is whole pages inside the array.</summary>
public class HugePagesTests
{
    [Fact]
    public void CollapsingKeepsContentsAndReportsWholePagesInside()
    {
        var data = new uint[5_000_000]; // ~19 MiB
        for (int i = 0; i < data.Length; i++) data[i] = (uint)i * 2654435761u;
        long backed = HugePages.TryBack(data);
        Assert.True(backed >= 0 && backed % (2 << 20) == 0 && backed <= data.LongLength * sizeof(uint), $"reported {backed} bytes");
        // No assertion that the collapse happened: the kernel refuses it when no free 2 MiB page can be assembled.
        for (int i = 0; i < data.Length; i++)
            if (data[i] != (uint)i * 2654435761u) Assert.Fail($"element {i} changed");
    }

    [Fact]
    public void SmallArraysAreLeftAlone() => Assert.Equal(0, HugePages.TryBack(new byte[1 << 20]));
}
