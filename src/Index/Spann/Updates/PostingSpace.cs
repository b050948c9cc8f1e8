namespace Retrieval.Index.Spann;

/// <summary>
/// Free page extents of the side posting file. Rebuilt after every completed checkpoint as everything that checkpoint
/// does not reference, so a checkpoint never writes over bytes the previous (still authoritative) one points at, and
/// space a posting gave up after a checkpoint becomes reusable only once the next checkpoint has completed — the
/// SPFresh rule that makes a crash at any point fall back cleanly to the last snapshot.
/// </summary>
internal sealed class PostingSpace
{
    private readonly List<(long Page, long Pages)> _free = [];

    /// <summary>Pages of the file (writes past the end extend it).</summary>
    public long EndPage { get; private set; }

    /// <summary>Everything not in <paramref name="used"/> (page, pages) within the file becomes free.</summary>
    public void Reset(IEnumerable<(long Page, long Pages)> used, long fileBytes)
    {
        var sorted = new List<(long Page, long Pages)>(used);
        sorted.Sort();
        _free.Clear();
        long at = 0;
        foreach (var (page, pages) in sorted)
        {
            if (page > at) _free.Add((at, page - at));
            at = Math.Max(at, page + pages);
        }
        EndPage = Math.Max(at, fileBytes / Spann.PostingLayout.PageBytes);
        if (EndPage > at) _free.Add((at, EndPage - at));
    }

    /// <summary>First fit among free extents, else the end of the file; returns the first page.</summary>
    public long Allocate(int pages)
    {
        for (int i = 0; i < _free.Count; i++)
        {
            var (page, count) = _free[i];
            if (count < pages) continue;
            if (count == pages) _free.RemoveAt(i);
            else _free[i] = (page + pages, count - pages);
            return page;
        }
        long start = EndPage;
        EndPage += pages;
        return start;
    }

    public long FreePages
    {
        get { long n = 0; foreach (var (_, c) in _free) n += c; return n; }
    }
}
