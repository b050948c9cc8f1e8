namespace Retrieval.Index.Seismic;

/// <summary>
/// The pruned, blocked inverted lists: term t owns blocks [TermBlockStart[t], TermBlockStart[t+1]); block b holds the
/// documents DocIds[BlockDocStart[b] .. BlockDocStart[b+1]), named by forward-index row (see
/// <see cref="SeismicIndex.RowDocuments"/>; ascending inside a block, so a block's forward rows are read in address
/// order). Every kept posting of a term sits in exactly one of its blocks. Three flat arrays,
/// no per-list objects.
/// </summary>
internal sealed class PostingLists
{
    internal PostingLists(int[] termBlockStart, int[] blockDocStart, int[] docIds)
    {
        TermBlockStart = termBlockStart;
        BlockDocStart = blockDocStart;
        DocIds = docIds;
    }

    public int[] TermBlockStart { get; }
    public int[] BlockDocStart { get; }
    public int[] DocIds { get; }

    public int VocabularySize => TermBlockStart.Length - 1;
    public int BlockCount => BlockDocStart.Length - 1;
    public long PostingCount => DocIds.LongLength;
    public long SizeInBytes => (TermBlockStart.LongLength + BlockDocStart.LongLength + DocIds.LongLength) * sizeof(int);

    public int BlockCountOf(int term) => TermBlockStart[term + 1] - TermBlockStart[term];

    public ReadOnlySpan<int> BlockDocs(int block) => DocIds.AsSpan(BlockDocStart[block], BlockDocStart[block + 1] - BlockDocStart[block]);
}
