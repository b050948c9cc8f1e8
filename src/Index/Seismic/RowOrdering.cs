namespace Retrieval.Index.Seismic;

/// <summary>The order in which documents' rows are stored in the forward index (and numbered in the posting lists).</summary>
public enum ForwardRowOrder
{
    /// <summary>Row r is input document r (no renumbering).</summary>
    Input,
    /// <summary>
    /// Documents are grouped by their home block (the block holding them in the list of their heaviest kept term),
    /// so a scored block's documents mostly sit next to each other in the forward index (see <see cref="RowOrdering"/>).
    /// </summary>
    BlockLocality,
}

/// <summary>
/// Renumbers documents for memory locality of document scoring. A query scores a block's documents one after
/// another; with rows in input order they are scattered over the whole forward index (one cache and often TLB miss
/// per document). A document can sit next to the other members of only one of its blocks, so each document is given
/// a home: its block in the list of its heaviest kept term. That term is, for IDF-like weightings, the rarest and
/// most query-selective one, and its list is the one where the document sits in a high-weight block, the kind that
/// passes the heap test. Rows are then stored home block by home block (ascending input id inside one); documents
/// with no kept posting go last. Results do not change: the same documents are scored with the same row bytes, and
/// the search offers the input id to the heap, so ties still break on input ids.
/// </summary>
internal static class RowOrdering
{
    /// <summary>Row -> input document id for <paramref name="order"/> (identity for <see cref="ForwardRowOrder.Input"/>).</summary>
    public static int[] RowDocuments(ForwardRowOrder order, int documentCount, StaticPruning.Result pruned, PostingLists postings)
    {
        var rowDocuments = new int[documentCount];
        if (order == ForwardRowOrder.Input)
        {
            for (int d = 0; d < documentCount; d++) rowDocuments[d] = d;
            return rowDocuments;
        }
        // Heaviest kept term per document (ties: lower term id, as terms are visited in ascending order).
        var heaviestTerm = new int[documentCount];
        var heaviestWeight = new float[documentCount];
        heaviestTerm.AsSpan().Fill(-1);
        int vocabulary = postings.VocabularySize;
        for (int t = 0; t < vocabulary; t++)
        {
            for (long i = pruned.Start[t]; i < pruned.Start[t + 1]; i++)
            {
                int d = pruned.Docs[i];
                float w = pruned.Weights[i];
                if (heaviestTerm[d] < 0 || w > heaviestWeight[d])
                {
                    heaviestTerm[d] = t;
                    heaviestWeight[d] = w;
                }
            }
        }
        var keys = new long[documentCount];
        for (int d = 0; d < documentCount; d++) keys[d] = ((long)int.MaxValue << 32) | (uint)d;
        for (int t = 0; t < vocabulary; t++)
        {
            for (int b = postings.TermBlockStart[t]; b < postings.TermBlockStart[t + 1]; b++)
                foreach (int d in postings.BlockDocs(b))
                    if (heaviestTerm[d] == t) keys[d] = ((long)b << 32) | (uint)d;
        }
        Array.Sort(keys);
        for (int r = 0; r < documentCount; r++) rowDocuments[r] = (int)(uint)keys[r];
        return rowDocuments;
    }

    /// <summary>Rewrites the posting lists' document ids as rows (ascending inside each block, as the search expects).</summary>
    public static PostingLists ToRows(PostingLists postings, int[] rowDocuments)
    {
        var documentRows = Inverse(rowDocuments);
        var rows = new int[postings.DocIds.Length];
        for (int i = 0; i < rows.Length; i++) rows[i] = documentRows[postings.DocIds[i]];
        for (int b = 0; b < postings.BlockCount; b++)
            rows.AsSpan(postings.BlockDocStart[b], postings.BlockDocStart[b + 1] - postings.BlockDocStart[b]).Sort();
        return new PostingLists(postings.TermBlockStart, postings.BlockDocStart, rows);
    }

    public static int[] Inverse(int[] rowDocuments)
    {
        var documentRows = new int[rowDocuments.Length];
        for (int r = 0; r < rowDocuments.Length; r++) documentRows[rowDocuments[r]] = r;
        return documentRows;
    }

    public static bool IsIdentity(int[] rowDocuments)
    {
        for (int r = 0; r < rowDocuments.Length; r++) if (rowDocuments[r] != r) return false;
        return true;
    }
}
