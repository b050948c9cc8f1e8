using Retrieval.Index.Errors;

namespace Retrieval.Bench.Corpora;

/// <summary>
/// A BEIR benchmark folder: <c>corpus.jsonl</c> or <c>corpus.jsonl.gz</c>, <c>queries.jsonl</c> and
/// <c>qrels/{split}.tsv</c> (tab-separated, header line <c>query-id corpus-id score</c>). Document and query ids
/// must be unique; qrels pairs must not repeat; every file must hold at least one record.
/// </summary>
public sealed class BeirDataset
{
    private readonly TextCollection _documentBodies;

    private BeirDataset(string directory, string[] documentIds, string[] titles, string[] bodies,
        TextCollection queries, Qrels qrels, string split)
    {
        DirectoryPath = directory;
        DocumentTitles = titles;
        _documentBodies = new TextCollection(documentIds, bodies);
        Queries = queries;
        Qrels = qrels;
        Split = split;
    }

    public string DirectoryPath { get; }
    public string Split { get; }
    public int DocumentCount => _documentBodies.Count;
    public string[] DocumentIds => _documentBodies.Ids;
    public string[] DocumentTitles { get; }
    /// <summary>The "text" field of each document (without its title).</summary>
    public string[] DocumentBodies => _documentBodies.Texts;
    public TextCollection Queries { get; }
    public Qrels Qrels { get; }

    /// <summary>Row of a document id, or -1.</summary>
    public int DocumentRow(string id) => _documentBodies.RowOf(id);

    /// <summary>
    /// The text to encode for document <paramref name="row"/> by the BEIR convention: title + " " + text, or just
    /// the text when the title is empty.
    /// </summary>
    public string DocumentText(int row)
    {
        var title = DocumentTitles[row];
        var body = DocumentBodies[row];
        return title.Length == 0 ? body : title + " " + body;
    }

    /// <summary><see cref="DocumentText"/> for every document, in corpus order.</summary>
    public string[] DocumentTexts()
    {
        var texts = new string[DocumentCount];
        for (int i = 0; i < texts.Length; i++) texts[i] = DocumentText(i);
        return texts;
    }

    /// <summary>Loads a BEIR folder; <paramref name="split"/> picks qrels/{split}.tsv.</summary>
    public static BeirDataset Load(string directory, string split = "test")
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new RetrievalException(ErrorKind.NotFound, $"{directory}: BEIR folder not found");
        var corpusPath = Path.Combine(directory, "corpus.jsonl");
        if (!File.Exists(corpusPath)) corpusPath += ".gz";
        if (!File.Exists(corpusPath))
            throw new RetrievalException(ErrorKind.NotFound, $"{directory}: expected corpus.jsonl or corpus.jsonl.gz, found neither");
        var queriesPath = Path.Combine(directory, "queries.jsonl");
        if (!File.Exists(queriesPath) && File.Exists(queriesPath + ".gz")) queriesPath += ".gz";
        var qrelsPath = Path.Combine(directory, "qrels", split + ".tsv");

        var (docIds, titles, bodies) = ReadEntries(corpusPath, expectTitle: true);
        var (queryIds, _, queryTexts) = ReadEntries(queriesPath, expectTitle: false);
        var qrels = ReadQrelsTsv(qrelsPath);
        return new BeirDataset(directory, docIds, titles, bodies, new TextCollection(queryIds, queryTexts), qrels, split);
    }

    private static (string[] Ids, string[] Titles, string[] Texts) ReadEntries(string path, bool expectTitle)
    {
        var ids = new List<string>();
        var titles = new List<string>();
        var texts = new List<string>();
        var firstRow = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in BeirJsonLines.Read(path, expectTitle))
        {
            if (!firstRow.TryAdd(entry.Id, ids.Count))
                throw new DataFormatException(path,
                    $"line {ids.Count + 1}: duplicate \"_id\" '{entry.Id}' (first seen on line {firstRow[entry.Id] + 1})", row: ids.Count);
            ids.Add(entry.Id);
            titles.Add(entry.Title);
            texts.Add(entry.Text);
        }
        return ([.. ids], [.. titles], [.. texts]);
    }

    /// <summary>BEIR qrels: a header line, then <c>query-id TAB corpus-id TAB score</c> with an integer score.</summary>
    internal static Qrels ReadQrelsTsv(string path)
    {
        var qrels = new Qrels();
        using var lines = TextFileLines.Open(path);
        if (!lines.TryRead(out var header))
            throw lines.FileError("expected the header 'query-id<TAB>corpus-id<TAB>score', found an empty file");
        var headerFields = header.Split('\t');
        if (headerFields.Length != 3 || headerFields[0].Trim() != "query-id" || headerFields[1].Trim() != "corpus-id" || headerFields[2].Trim() != "score")
            throw lines.Error($"expected the header 'query-id<TAB>corpus-id<TAB>score', found {TextFileLines.Excerpt(header)}");
        while (lines.TryRead(out var line))
        {
            var fields = line.Split('\t');
            if (fields.Length != 3)
                throw lines.Error($"expected 3 tab-separated fields (query-id, corpus-id, score), found {fields.Length}: {TextFileLines.Excerpt(line)}");
            if (fields[0].Length == 0 || fields[1].Length == 0)
                throw lines.Error("expected non-empty query-id and corpus-id");
            if (!int.TryParse(fields[2], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var grade))
                throw lines.Error($"expected an integer score in field 3, found \"{fields[2]}\"");
            if (!qrels.TryAdd(fields[0], fields[1], grade))
                throw lines.Error($"query '{fields[0]}' / document '{fields[1]}' is judged twice");
        }
        if (qrels.Count == 0) throw lines.FileError("expected at least one judgement after the header, found none");
        return qrels;
    }
}
