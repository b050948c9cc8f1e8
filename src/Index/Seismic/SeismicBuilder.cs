using System.Diagnostics;
using Retrieval.Index.Errors;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Seismic;

/// <summary>
/// Builds a <see cref="SeismicIndex"/>: validate, forward index, transpose, static pruning, then per list (in parallel)
/// blocking and summaries, stitched into flat arrays in term order so the result does not depend on thread timing.
/// </summary>
internal static class SeismicBuilder
{
    public static SeismicIndex Build(SparseMatrix documents, SeismicBuildOptions options, string[]? documentIds)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (documentIds is not null && documentIds.Length != documents.RowCount)
            Guard.ThrowInvalid($"{documentIds.Length} document ids for {documents.RowCount} documents");
        var clock = Stopwatch.StartNew();
        var forward = BuildForward(documents, options.Values, out int emptyDocuments);
        int maxLength = 0;
        for (int d = 0; d < forward.DocumentCount; d++) maxLength = Math.Max(maxLength, forward.LengthOf(d));

        var pruned = StaticPruning.Prune(TransposedPostings.Build(forward), options);
        int vocabulary = forward.VocabularySize;
        var lists = new BlockSummarizer.ListBuild?[vocabulary];
        int threads = options.Threads == 0 ? Environment.ProcessorCount : options.Threads;
        int nextTerm = 0;
        Parallel.For(0, Math.Max(1, threads), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, _ =>
        {
            var blocking = new ListBlocking(forward, options, maxLength);
            var summarizer = new BlockSummarizer(forward, options.SummaryEnergy, options.SummaryMaxEntries, maxLength);
            while (true)
            {
                int t = Interlocked.Increment(ref nextTerm) - 1;
                if (t >= vocabulary) break;
                int start = (int)pruned.Start[t], length = (int)(pruned.Start[t + 1] - start);
                if (length == 0) continue;
                var ordered = new int[length];
                var boundaries = blocking.Partition(t, pruned.Docs.AsSpan(start, length), pruned.Weights.AsSpan(start, length), ordered);
                lists[t] = summarizer.Summarize(t, boundaries, ordered);
            }
        });

        var (postings, summaries) = Stitch(lists, vocabulary);
        // Blocking and summaries ran on input ids; the rows are renumbered last (summaries name terms, not documents).
        var rowDocuments = RowOrdering.RowDocuments(options.RowOrder, forward.DocumentCount, pruned, postings);
        if (!RowOrdering.IsIdentity(rowDocuments))
        {
            forward = forward.Reorder(rowDocuments);
            postings = RowOrdering.ToRows(postings, rowDocuments);
        }
        var stats = new SeismicBuildStats(clock.Elapsed.TotalSeconds, emptyDocuments, postings.PostingCount,
            postings.BlockCount, summaries.EntryCount);
        var index = new SeismicIndex(options, forward, postings, summaries, rowDocuments, documentIds, stats);
        if (options.KnnNeighbours > 0)
        {
            // The graph is searched with the finished index, so it comes last.
            double before = clock.Elapsed.TotalSeconds;
            var graph = KnnGraphBuilder.Build(index, options.KnnNeighbours, threads, KnnGraphBuilder.BuildSearch(options));
            double after = clock.Elapsed.TotalSeconds;
            index.AttachGraph(graph, stats with { BuildSeconds = after, KnnGraphSeconds = after - before });
        }
        return index;
    }

    private static (PostingLists, QuantizedSummaries) Stitch(BlockSummarizer.ListBuild?[] lists, int vocabulary)
    {
        long blocks = 0, docs = 0, components = 0, entries = 0;
        int maxBlocksPerList = 0, maxEntriesPerList = 0;
        foreach (var list in lists)
        {
            if (list is null) continue;
            blocks += list.BlockMin.Length;
            docs += list.Docs.Length;
            components += list.ComponentTerms.Length;
            entries += list.EntryCodes.Length;
            maxBlocksPerList = Math.Max(maxBlocksPerList, list.BlockMin.Length);
            maxEntriesPerList = Math.Max(maxEntriesPerList, list.EntryCodes.Length);
        }
        if (docs > Array.MaxLength || entries > Array.MaxLength || blocks >= int.MaxValue || components >= int.MaxValue)
            throw new RetrievalException(ErrorKind.ResourceExhausted,
                $"index too large for 32-bit offsets: {docs} postings, {blocks} blocks, {entries} summary entries; prune harder");
        var termBlockStart = new int[vocabulary + 1];
        var blockDocStart = new int[blocks + 1];
        var docIds = new int[docs];
        var blockMin = new float[blocks];
        var blockScale = new float[blocks];
        var termComponentStart = new int[vocabulary + 1];
        var termEntryStart = new int[vocabulary + 1];
        // Narrowest widths that fit every list (see QuantizedSummaries).
        bool narrowTerms = vocabulary <= ushort.MaxValue + 1;
        bool narrowOffsets = maxEntriesPerList <= ushort.MaxValue + 1;
        bool narrowBlocks = maxBlocksPerList <= byte.MaxValue + 1;
        var componentTerms = new int[components];
        var entryOffsets = new int[components];
        var entryBlocks = new ushort[entries];
        var entryCodes = new byte[entries];
        int b = 0, c = 0, d = 0, e = 0;
        for (int t = 0; t < vocabulary; t++)
        {
            termBlockStart[t] = b;
            termComponentStart[t] = c;
            termEntryStart[t] = e;
            var list = lists[t];
            if (list is null) continue;
            for (int i = 0; i < list.BlockMin.Length; i++)
            {
                blockDocStart[b + i] = d + list.BlockBoundaries[i];
                blockMin[b + i] = list.BlockMin[i];
                blockScale[b + i] = list.BlockScale[i];
            }
            list.Docs.CopyTo(docIds, d);
            int local = 0;
            for (int i = 0; i < list.ComponentTerms.Length; i++)
            {
                componentTerms[c + i] = list.ComponentTerms[i];
                entryOffsets[c + i] = local;
                local += list.ComponentEntryCounts[i];
            }
            list.EntryBlocks.CopyTo(entryBlocks, e);
            list.EntryCodes.CopyTo(entryCodes, e);
            b += list.BlockMin.Length;
            c += list.ComponentTerms.Length;
            d += list.Docs.Length;
            e += local;
        }
        termBlockStart[vocabulary] = b;
        termComponentStart[vocabulary] = c;
        termEntryStart[vocabulary] = e;
        blockDocStart[b] = d;
        Array terms = narrowTerms ? Narrow16(componentTerms) : componentTerms;
        Array offsets = narrowOffsets ? Narrow16(entryOffsets) : entryOffsets;
        Array blockIds = narrowBlocks ? Narrow8(entryBlocks) : entryBlocks;
        return (new PostingLists(termBlockStart, blockDocStart, docIds),
            QuantizedSummaries.Create(blockMin, blockScale, termComponentStart, termEntryStart, terms, offsets, blockIds, entryCodes));
    }

    private static ushort[] Narrow16(int[] values)
    {
        var narrow = new ushort[values.Length];
        for (int i = 0; i < values.Length; i++) narrow[i] = (ushort)values[i];
        return narrow;
    }

    private static byte[] Narrow8(ushort[] values)
    {
        var narrow = new byte[values.Length];
        for (int i = 0; i < values.Length; i++) narrow[i] = (byte)values[i];
        return narrow;
    }

    /// <summary>
    /// Validates every document (term ids inside the vocabulary and strictly increasing, weights finite and
    /// non-negative: the summaries' max-based bounds rely on it) and copies it into the compact forward layout.
    /// </summary>
    internal static ForwardIndex BuildForward(SparseMatrix documents, ForwardValueStorage storage, out int emptyDocuments)
    {
        int vocabulary = documents.ColumnCount;
        var offsets = documents.RowOffsets;
        var indices = documents.Indices;
        var values = documents.Values;
        emptyDocuments = 0;
        for (int row = 0; row < documents.RowCount; row++)
        {
            long start = offsets[row], end = offsets[row + 1];
            if (end < start) Guard.ThrowInvalid($"document row {row}: row offsets decrease ({start} then {end})");
            if (start == end) emptyDocuments++;
            int previous = -1;
            for (long e = start; e < end; e++)
            {
                int term = indices[e];
                if ((uint)term >= (uint)vocabulary)
                    Guard.ThrowInvalid($"document row {row}: term id {term} is outside the vocabulary [0, {vocabulary})");
                if (term == previous)
                    Guard.ThrowInvalid($"document row {row}: duplicate term id {term} (each term must appear once per document)");
                if (term < previous)
                    Guard.ThrowInvalid($"document row {row}: term ids must be strictly increasing, found {term} after {previous}");
                float w = values[e];
                if (!float.IsFinite(w)) Guard.ThrowInvalid($"document row {row}: term {term} has non-finite weight {w}");
                if (w < 0) Guard.ThrowInvalid($"document row {row}: term {term} has negative weight {w} (learned-sparse weights must be >= 0)");
                previous = term;
            }
        }
        long nnz = documents.NonZeroCount;
        var forwardOffsets = (long[])offsets.Clone();
        Array terms;
        if (vocabulary <= ushort.MaxValue + 1)
        {
            var narrow = new ushort[nnz];
            for (long i = 0; i < nnz; i++) narrow[i] = (ushort)indices[i];
            terms = narrow;
        }
        else
        {
            terms = (int[])indices.Clone();
        }
        Array stored;
        if (storage == ForwardValueStorage.Float16)
        {
            var half = new Half[nnz];
            for (long i = 0; i < nnz; i++)
            {
                half[i] = (Half)(values[i] + 0f);
                if (Half.IsInfinity(half[i]))
                    Guard.ThrowInvalid($"weight {values[i]} (entry {i}) exceeds the float16 range (65504); build with Values = Float32");
            }
            stored = half;
        }
        else
        {
            var full = new float[nnz];
            // + 0f turns -0 into +0 so weights order like their bit patterns.
            for (long i = 0; i < nnz; i++) full[i] = values[i] + 0f;
            stored = full;
        }
        return ForwardIndex.Create(forwardOffsets, vocabulary, terms, stored);
    }
}
